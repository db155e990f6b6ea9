/**
 * What the dashboard shows of a run, in a real browser (headless Chromium, playwright-core), while one real
 * pilot with 4 cpus runs a mixed pool and after it exits:
 *   - the pilot's done and failed follow its tokens within a lease renewal, are final when it exits, and an
 *     exited pilot is not shown as running;
 *   - the chart fits the run: a run of seconds gets bins of seconds, covering its first to its last finish,
 *     with the running total of finished tokens;
 *   - the pilot's resources and its running tokens' shapes, and the pool's todo per shape;
 *   - the autoscaler panel, from a `picas-autoscaler` document this test writes: running and pending pilots,
 *     the last decision and the pause reason, updated live; nothing when there is no document.
 * The pilot's last tokens wait for a file the test creates, so nothing depends on timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTOSCALER_DOC_ID, AUTOSCALER_TYPE, newToken, type AutoscalerDoc } from '@picas/core';
import { fileLabel, freshDatabase, runCli, runWorker, scratchDir } from '@picas/testkit';
import { startDashboardProcess } from './dashboard-process.js';
import { artifacts, browserSkip, launchChromium } from './headless-chromium.js';

// the page functions below run in the browser; this package compiles without the DOM types
declare const document: any;

const skip = browserSkip('dashboard-run-view.test');

const OK = 10;
const FAIL = 2;

test('the dashboard follows a pilot (counts, shapes), fits the chart to the run, and shows the autoscaler', { skip, timeout: 240_000 }, async (t) => {
  const db = await freshDatabase(fileLabel(import.meta.url));
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const gate = join(scratchDir(), 'go');
  const hold = `while [ ! -e '${gate}' ]; do sleep 0.1; done; echo released`;
  const docs = [
    ...Array.from({ length: OK }, (_, i) => newToken(`ok_${String(i).padStart(2, '0')}`, 'sleep 0.2')),
    ...Array.from({ length: FAIL }, (_, i) => newToken(`fail_${i}`, 'echo no >&2; exit 3')),
    // two tokens hold the pilot until the test lets them go: one of 2 cpus (first, the others run beside
    // it), one of 1 cpu (last)
    newToken('hold_big', hold, { priority: 1, resources: { cpus: 2 } }),
    newToken('hold_small', hold, { priority: -1 }),
    // no pilot here can run it: it stays todo, counted per shape
    newToken('too_big', 'true', { resources: { cpus: 64 } }),
  ];
  const http = db.couch.http;
  await http.expectOk({ method: 'POST', path: http.dbPath('/_bulk_docs'), body: { docs } });

  const dashboard = await startDashboardProcess([], db.env);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
  page.setDefaultTimeout(60_000);
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  await page.goto(dashboard.url);
  const waitCount = (state: string, value: number) => page.waitForFunction(([s, v]) => document.querySelector(`#counts [data-state="${s}"] b`)?.textContent === v, [state, String(value)] as const);
  await waitCount('todo', docs.length);
  assert.equal(await page.locator('#autoscaler').isHidden(), true, 'no autoscaler document: no panel');

  const started = Date.now() / 1000;
  const pilot = runWorker(['--worker-id', 'view-pilot', '--lease', '3s', '--cpus', '4', '--prefetch', '1'], { env: db.env });
  t.after(() => pilot.kill('SIGKILL'));
  await waitCount('done', OK);
  await waitCount('error', FAIL);

  // while it runs the two held tokens: its done and failed follow, and its running tokens' shapes show
  const row = page.locator('#pilots tbody tr[data-pilot="view-pilot"]');
  await page.waitForFunction(
    ([ok, fail]) => {
      const r = document.querySelector('#pilots tbody tr[data-pilot="view-pilot"]');
      return r?.dataset.state === 'running' && r.dataset.done === ok && r.dataset.failed === fail && r.querySelector('td.shapes')?.textContent === '1× 1 cpu · 1× 2 cpu';
    },
    [String(OK), String(FAIL)] as const,
  ).catch(async (err) => {
    const record = await http.request({ path: http.docPath('pilot:view-pilot') });
    throw new Error(`the pilot's row did not follow: ${await row.evaluate((e: any) => e.outerHTML).catch(() => 'no row')}\nits record: ${JSON.stringify(record.body)}`, { cause: err });
  });
  assert.match((await row.locator('td.resources').textContent()) ?? '', /^4 cpu\b/);
  const cells = await row.locator('td').allTextContents();
  assert.ok(cells.includes(String(OK)) && cells.includes(String(FAIL)), `done and failed shown: ${cells.join(' | ')}`);
  // the pool's todo per shape
  await page.waitForFunction(() => /64 cpu: 1/.test(document.querySelector('#todo-shapes')?.textContent ?? ''));

  // the chart fits the run: second bins, from its first finish to its last, and the running total
  await page.waitForFunction((n) => document.querySelector('#chart canvas') && document.querySelector('#chart').dataset.total === n, String(OK + FAIL));
  const chart = await page.locator('#chart').evaluate((e: any) => ({ ...e.dataset }));
  const binSeconds = Number(chart.binSeconds);
  assert.ok(binSeconds <= 15, `a run of seconds gets bins of seconds (got ${binSeconds} s)`);
  assert.ok(Number(chart.from) >= Math.floor(started) - binSeconds && Number(chart.from) <= Date.now() / 1000, `the chart starts at the run (${chart.from}, run started ${started})`);
  assert.ok(Number(chart.to) - Number(chart.from) <= 600, `and spans the run, not 30 minutes (${chart.from} to ${chart.to})`);
  assert.ok(Number(chart.points) >= 1 && Number(chart.bins) >= Number(chart.points));
  assert.match((await page.locator('#chart-note').textContent()) ?? '', /per \d+ s bin/);

  // the autoscaler panel: written by this test as the controller would, shown live
  const now = Math.floor(Date.now() / 1000);
  const doc: AutoscalerDoc = {
    _id: AUTOSCALER_DOC_ID,
    type: AUTOSCALER_TYPE,
    owner: 'test:1:abc',
    lease_until: now + 120,
    heartbeat: now,
    backend: 'slurm',
    settings: { max_pilots: 3 },
    pilots: [
      { backend: 'slurm', job_id: '101', state: 'running', submitted: now - 60, started: now - 50 },
      { backend: 'slurm', job_id: '102', state: 'pending', submitted: now - 10 },
      { backend: 'slurm', job_id: '100', state: 'completed', submitted: now - 600, ended: now - 100 },
    ],
    failures: { submit_in_row: 0, failed_starts_in_row: 0 },
    last_decision: { at: now, line: 'todo 2 (0.1 h of work) · unschedulable 1 · pilots 1 running, 1 pending of 3 · nothing to do', todo: 2, demand_s: 300, supply_s: 600, unschedulable: 1, submit: 0, cancel: 0 },
  };
  const put = await http.expectOk<{ rev: string }>({ method: 'PUT', path: http.docPath(AUTOSCALER_DOC_ID), body: doc });
  await page.locator('#autoscaler').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.querySelector('#autoscaler-pilots')?.dataset.running === '1' && document.querySelector('#autoscaler-pilots')?.dataset.pending === '1');
  assert.match((await page.locator('#autoscaler-pilots').textContent()) ?? '', /1 running, 1 pending of 3/);
  assert.match((await page.locator('#autoscaler-decision').textContent()) ?? '', /pilots 1 running, 1 pending of 3 · nothing to do/);
  assert.equal(await page.locator('#autoscaler-paused').isHidden(), true);
  // paused: the reason, prominent
  const paused = { ...doc, _rev: put.rev, paused: { reason: '3 failed starts in a row (pilots ended within a minute without running a token)', at: now + 1, resume: 'picas autoscale resume' } };
  const put2 = await http.expectOk<{ rev: string }>({ method: 'PUT', path: http.docPath(AUTOSCALER_DOC_ID), body: paused });
  await page.locator('#autoscaler-paused').waitFor({ state: 'visible' });
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'dashboard-run-view.png'), fullPage: true });
  assert.match((await page.locator('#autoscaler-paused').textContent()) ?? '', /3 failed starts in a row.*picas autoscale resume/);
  // the document gone: the panel goes too
  await http.expectOk({ method: 'DELETE', path: http.docPath(AUTOSCALER_DOC_ID), query: { rev: put2.rev } });
  await page.locator('#autoscaler').waitFor({ state: 'hidden' });

  // let the pilot go: its counts are final, it is not running any more
  writeFileSync(gate, '');
  const r = await pilot;
  assert.equal(r.exitCode, 0, r.stderr);
  await page.waitForFunction(
    (ok) => {
      const r = document.querySelector('#pilots tbody tr[data-pilot="view-pilot"]');
      return r?.dataset.state === 'finished' && r.dataset.done === ok;
    },
    String(OK + 2),
  );
  assert.equal(await page.locator('#pilots tbody tr[data-state="running"]').count(), 0, 'an exited pilot is not shown as running');
  assert.equal(await page.locator('#pilots tbody tr[data-pilot="view-pilot"]').getAttribute('data-failed'), String(FAIL));
  assert.deepEqual(consoleErrors, [], 'no console errors');
  await dashboard.stop();
});
