/**
 * The dashboard in a real browser (Debian's headless Chromium, driven by playwright-core): `picas dashboard`
 * serves the page while two real pilots drain a pool with failing tokens. The page must show, without a
 * reload: the counts changing, the chart's points, a failing token's exit code and stderr (and its whole log
 * on a click), the pilots running and then finished, and no console errors. It saves a screenshot.
 *
 * The pilots' last tokens wait for a file the test creates, so the page is looked at while they run: no
 * timing is assumed anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newToken } from '@picas/core';
import { fileLabel, freshDatabase, runCli, runWorker, scratchDir } from '@picas/testkit';
import { startDashboardProcess } from './dashboard-process.js';
import { artifacts, browserSkip, launchChromium } from './headless-chromium.js';

// the page functions below run in the browser; this package compiles without the DOM types
declare const document: any;

const skip = browserSkip('dashboard.test');

const OK = 24;
const FAIL = 3;

test('the dashboard shows a live run in Chromium: counts, chart, failures with stderr, pilots running then finished', { skip, timeout: 240_000 }, async (t) => {
  const db = await freshDatabase(fileLabel(import.meta.url));
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const gate = join(scratchDir(), 'go');
  const docs = [
    ...Array.from({ length: OK }, (_, i) => newToken(`ok_${String(i).padStart(2, '0')}`, `echo token ${i}`)),
    ...Array.from({ length: FAIL }, (_, i) => newToken(`fail_${i}`, `for n in 1 2 3 4 5 6 7 8 9; do echo "fail_${i} stderr line $n" >&2; done; echo "fail_${i}: giving up" >&2; exit 7`)),
    // the last two tokens (lowest priority) hold the pilots until the test lets them go
    ...['hold_a', 'hold_b'].map((id) => newToken(id, `while [ ! -e '${gate}' ]; do sleep 0.1; done; echo released`, { priority: -1 })),
  ];
  await db.couch.http.expectOk({ method: 'POST', path: db.couch.http.dbPath('/_bulk_docs'), body: { docs } });
  const total = docs.length;

  const dashboard = await startDashboardProcess([], db.env);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  page.setDefaultTimeout(60_000);
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  await page.goto(dashboard.url);

  const count = (state: string) => page.locator(`#counts [data-state="${state}"] b`);
  const waitText = (state: string, value: number) => page.waitForFunction(([s, v]) => document.querySelector(`#counts [data-state="${s}"] b`)?.textContent === v, [state, String(value)] as const);
  await waitText('todo', total);
  assert.equal(await count('done').textContent(), '0');
  assert.equal(await page.locator('#pilots tbody tr[data-pilot]').count(), 0);

  // two real pilots drain the pool; the page is never reloaded
  const pilots = ['dash-pilot-1', 'dash-pilot-2'].map((id) => runWorker(['--worker-id', id, '--lease', '3s', '--prefetch', '1'], { env: db.env }));
  t.after(() => {
    for (const p of pilots) p.kill('SIGKILL');
  });
  await waitText('done', OK);
  await waitText('error', FAIL);
  await waitText('locked', 2);
  assert.equal(await count('todo').textContent(), '0');

  // both pilots are running (each holds one of the last tokens)
  await page.waitForFunction(() => document.querySelectorAll('#pilots tbody tr[data-state="running"]').length === 2);
  const pilotRows = await page.locator('#pilots tbody tr[data-pilot]').evaluateAll((rows) => rows.map((r) => (r as any).dataset.pilot).sort());
  assert.deepEqual(pilotRows, ['dash-pilot-1', 'dash-pilot-2']);

  // the chart has points (tokens finished per minute)
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.points) > 0 && document.querySelector('#chart canvas'));

  // the failures table: exit code, host and the last lines of stderr; a click shows the whole log
  const failRow = page.locator('#failures tbody tr[data-id="fail_1"]');
  await failRow.waitFor();
  assert.equal((await failRow.locator('.exit-code').textContent())?.trim(), '7');
  const tail = (await failRow.locator('pre.tail').textContent()) ?? '';
  assert.match(tail, /fail_1: giving up/);
  assert.doesNotMatch(tail, /stderr line 1\b/, 'the table shows only the last lines');
  // (the failures are read apart from the counts: wait for all three)
  await page.waitForFunction((n) => document.querySelectorAll('#failures tbody tr[data-id]').length === n, FAIL);
  const fauxtonHref = await failRow.locator('a').getAttribute('href');
  assert.match(fauxtonHref ?? '', /\/_utils\/#\/database\/[^/]+\/fail_1$/);
  await failRow.locator('pre.tail').click();
  await page.waitForFunction(() => /stderr line 1\b/.test(document.querySelector('#log-text')?.textContent ?? ''));
  assert.match((await page.locator('#log-text').textContent()) ?? '', /fail_1 stderr line 1[\s\S]*fail_1: giving up/);
  await page.locator('#log-close').click();

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'dashboard-running.png'), fullPage: true });

  // let the pilots go: the held tokens finish, the pool is empty, both pilots end
  writeFileSync(gate, '');
  for (const p of pilots) {
    const r = await p;
    assert.equal(r.exitCode, 0, r.stderr);
  }
  await waitText('done', OK + 2);
  await waitText('locked', 0);
  await page.waitForFunction(() => document.querySelectorAll('#pilots tbody tr[data-state="finished"]').length === 2);
  assert.match((await page.locator('#progress-text').textContent()) ?? '', new RegExp(`${total} of ${total} finished \\(100\\.0%\\)`));
  await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });

  const stats = (await (await fetch(new URL('/api/stats', dashboard.url))).json()) as { viewReads: number };
  assert.ok(stats.viewReads > 0);
  assert.deepEqual(consoleErrors, [], 'no console errors');
  const r = await dashboard.stop();
  assert.ok(r.exitCode === 0 || r.signal === 'SIGTERM', `the dashboard stops on SIGTERM (${r.exitCode}, ${String(r.signal)})`);
});
