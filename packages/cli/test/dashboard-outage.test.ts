/**
 * The dashboard in Chromium while CouchDB goes away and comes back: the badge says `live`, then `CouchDB
 * unreachable since HH:MM`, and the numbers still on the page are marked stale; once CouchDB is back, live
 * again and fresh. Also: the title names the database once, and running pilots come first while ended ones
 * are summarised per state, their rows collapsed.
 *
 * It needs a CouchDB it can stop, so it runs its own `picas server` (embedded, data on disk, restarted on
 * the same port), whatever backend the rest of the suite uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, runWorker } from '@picas/testkit';
import { tempDir } from './fixtures.js';
import { startDashboardProcess } from './dashboard-process.js';
import { browserSkip, launchChromium } from './headless-chromium.js';
import { startServerProcess } from './server-process.js';

// the page functions below run in the browser; this package compiles without the DOM types
declare const document: any;

const skip = browserSkip('dashboard-outage.test');

test('the badge and stale marks follow a CouchDB outage; one title; running pilots first, ended ones summarised', { skip, timeout: 240_000 }, async (t) => {
  const gate = join(tempDir(), 'go');
  const dir = tempDir({ 'tokens.txt': 'true\ntrue\ntrue\n', 'hold.txt': `while [ ! -e '${gate}' ]; do sleep 0.1; done\n` });
  const server = await startServerProcess(['--port', '0', '--data-dir', 'data'], { cwd: dir });
  const admin = JSON.parse(readFileSync(join(dir, 'data', 'picas-admin.json'), 'utf8')) as { username: string; password: string };
  // the default database: 'picas'
  const env = { PICAS_URL: server.url, PICAS_USERNAME: admin.username, PICAS_PASSWORD: admin.password };
  const cli = (...args: string[]) => runCli(args, { cwd: dir, env });
  assert.equal((await cli('init')).exitCode, 0);
  assert.equal((await cli('push', 'tokens.txt')).exitCode, 0);
  // three pilots that end (the pool drained), then one that keeps running on the held token
  for (const id of ['ended-1', 'ended-2', 'ended-3']) assert.equal((await runWorker(['--worker-id', id], { env })).exitCode, 0);
  assert.equal((await cli('push', 'hold.txt')).exitCode, 0);
  const runner = runWorker(['--worker-id', 'runner', '--lease', '60s'], { env });
  t.after(() => {
    try {
      writeFileSync(gate, '');
    } catch {
      // its folder is gone already
    }
    runner.kill('SIGKILL');
  });

  const dashboard = await startDashboardProcess([], env);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(60_000);
  const consoleErrors: string[] = [];
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  await page.goto(dashboard.url);

  // the title names the database once
  await page.waitForFunction(() => document.querySelector('#db')?.textContent === 'picas');
  assert.equal(await page.title(), 'picas dashboard');
  assert.doesNotMatch((await page.locator('body > header').textContent()) ?? '', /picas\s+picas/);

  // running pilots first; the ended ones counted per state, their rows collapsed until asked for
  await page.waitForFunction(() => document.querySelector('#pilots-active tr[data-pilot="runner"][data-state="running"]'));
  await page.waitForFunction(() => document.querySelectorAll('#pilots-ended tr[data-state="finished"]').length === 3);
  assert.deepEqual(await page.locator('#pilots-active tr[data-pilot]').evaluateAll((rows) => rows.map((r) => (r as any).dataset.pilot)), ['runner']);
  assert.equal(await page.locator('#pilots-ended').isVisible(), false, 'ended pilots are collapsed');
  assert.equal(await page.locator('#pilots-ended-note').textContent(), 'ended: 3 finished');
  assert.equal(await page.locator('#pilots-note').textContent(), '1 running · 3 ended');
  await page.locator('#pilots-toggle').click();
  assert.equal(await page.locator('#pilots-ended').isVisible(), true);
  assert.equal(await page.locator('#pilots-ended tr[data-pilot="ended-2"]').isVisible(), true);
  await page.locator('#pilots-toggle').click();
  assert.equal(await page.locator('#pilots-ended').isVisible(), false);

  // live, fresh numbers
  await page.waitForFunction(() => document.querySelector('#live').dataset.state === 'live');
  await page.waitForFunction(() => document.querySelector('#counts [data-state="done"] b')?.textContent === '3');
  assert.equal(await page.locator('main').getAttribute('data-stale'), 'false');
  assert.equal(await page.locator('#stale-note').isVisible(), false);

  // CouchDB goes away: the badge says since when, the numbers shown are marked stale
  const port = new URL(server.url).port;
  // (with clients connected it may take its grace period and a SIGKILL: either way it is gone)
  await server.stop('SIGTERM');
  await page.waitForFunction(() => document.querySelector('#live').dataset.state === 'unreachable', undefined, { timeout: 60_000 });
  assert.match((await page.locator('#live').textContent()) ?? '', /^CouchDB unreachable since \d{1,2}:\d{2}/);
  assert.equal(await page.locator('main').getAttribute('data-stale'), 'true');
  assert.match((await page.locator('#stale-note').textContent()) ?? '', /^stale: these numbers were read at .*CouchDB cannot be reached/);
  assert.equal(await page.locator('#counts [data-state="done"] b').textContent(), '3', 'the last numbers stay, marked');
  assert.ok(!(await dashboard.output()).includes(admin.password), 'no password in the dashboard output');

  // back on the same port: live again, and the numbers are read afresh
  const again = await startServerProcess(['--port', port, '--data-dir', 'data'], { cwd: dir });
  t.after(() => again.stop());
  await page.waitForFunction(() => document.querySelector('#live').dataset.state === 'live' && document.querySelector('main').dataset.stale === 'false', undefined, { timeout: 90_000 });
  assert.equal(await page.locator('#stale-note').isVisible(), false);
  assert.deepEqual(consoleErrors, []);
});
