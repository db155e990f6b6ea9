/**
 * `picas launch local` end to end: the real CLI starts real picas-worker processes against the test
 * server. They drain the pool; a worker that fails makes the launcher fail; SIGINT puts running tokens
 * back to todo and leaves no process behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, waitFor, workerBin, processAlive, scratchDir } from '@picas/testkit';
import { tokenPool, tokensByState } from './token-pool.js';

test('picas-worker is built (the launch tests run the real worker)', () => {
  assert.ok(existsSync(workerBin), `${workerBin} is missing: build it with npx tsc -b packages/worker`);
});

test('picas launch local -n 3 drains the pool, each token exactly once, and streams prefixed output', async () => {
  const dir = scratchDir('picas-launch-');
  const ledger = join(dir, 'ledger.txt');
  const tokens = Array.from({ length: 30 }, (_, i) => ({ id: `t${String(i).padStart(2, '0')}`, input: `sleep 0.1; echo "$PICAS_TOKEN_ID" >> ${ledger}` }));
  const db = await tokenPool(import.meta.url, tokens);

  const run = await runCli(['launch', 'local', '-n', '3', '--lease', '1m'], { env: db.env, cwd: dir });
  assert.equal(run.exitCode, 0, run.stderr);
  const states = await tokensByState(db.couch);
  assert.equal(states.done.length, 30, JSON.stringify(states));
  const lines = readFileSync(ledger, 'utf8').trim().split('\n').sort();
  assert.deepEqual(lines, tokens.map((t) => t.id));
  // every worker's summary line, with its prefix; JSON log lines are passed on (stderr is not a terminal)
  for (const w of ['[w1]', '[w2]', '[w3]']) assert.match(run.stdout, new RegExp(`^\\${w.slice(0, -1)}\\] picas-worker .*done \\d+`, 'm'));
  assert.match(run.stderr, /^\[w1\] \{"level":/m);
  assert.match(run.stderr, /3 workers finished, all ok/);
  assert.ok(!run.stderr.includes(db.env.PICAS_PASSWORD ?? 'no password'), 'the password is never printed');
  // the launcher's --lease reached the workers (as PICAS_LEASE)
  assert.match(run.stderr, /"lease_s":60/);
});

test('text log format: short human lines instead of JSON', async () => {
  const db = await tokenPool(import.meta.url, [{ id: 'one', input: 'true' }]);
  const run = await runCli(['launch', 'local', '-n', '1', '--log-format', 'text'], { env: db.env });
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stderr, /^\[w1\] \d\d:\d\d:\d\d INFO claimed token=one/m);
  assert.doesNotMatch(run.stderr, /^\[w1\] \{/m);
});

test('workers that fail make the launcher fail, with each failure named', async () => {
  const db = await tokenPool(import.meta.url, [{ id: 'x', input: 'true' }]);
  const failing = await runCli(['launch', 'local', '-n', '2', '--worker-command', '/bin/false'], { env: db.env });
  assert.equal(failing.exitCode, 1);
  assert.match(failing.stderr, /2 of 2 workers failed \(worker 1 exited 1, worker 2 exited 1\)/);

  const missing = await runCli(['launch', 'local', '-n', '1', '--worker-command', '/nonexistent/picas-worker'], { env: db.env });
  assert.notEqual(missing.exitCode, 0);
  assert.match(missing.stderr, /\[w1\] did not start: \/nonexistent\/picas-worker not found/);

  // bad options: every problem at once, nothing started
  const bad = await runCli(['launch', 'local', '-n', '0', '--slots', '0', '--lease', 'soon'], { env: db.env });
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stderr, /-n\/--count/);
  const badWorker = await runCli(['launch', 'local', '--slots', '0', '--lease', 'soon'], { env: db.env });
  assert.equal(badWorker.exitCode, 1);
  assert.match(badWorker.stderr, /--lease/);
  assert.match(badWorker.stderr, /--slots/);

  // a wrong password: one clear error before any worker starts
  const denied = await runCli(['launch', 'local', '-n', '3'], { env: { ...db.env, PICAS_USERNAME: 'admin', PICAS_PASSWORD: 'wrong-password' } });
  assert.equal(denied.exitCode, 3, denied.stderr);
  assert.match(denied.stderr, /authentication failed/);
  assert.doesNotMatch(denied.stderr, /\[w1\]/);
  assert.equal((await tokensByState(db.couch)).todo.length, 1);
});

test('SIGINT to the launcher puts the running tokens back to todo and leaves no process behind', async () => {
  const dir = scratchDir('picas-launch-sigint-');
  // each token records the pid of its command, then sleeps far longer than the test
  const tokens = [1, 2, 3].map((i) => ({ id: `long${i}`, input: `echo $$ > ${dir}/$PICAS_TOKEN_ID.pid; exec sleep 300` }));
  const db = await tokenPool(import.meta.url, tokens);

  const launcher = runCli(['launch', 'local', '-n', '3'], { env: db.env, cwd: dir });
  await waitFor(async () => (await tokensByState(db.couch)).locked.length === 3 && tokens.every((t) => existsSync(join(dir, `${t.id}.pid`))), {
    timeoutMs: 60_000,
    what: 'three running tokens',
  });
  const pids = tokens.map((t) => Number(readFileSync(join(dir, `${t.id}.pid`), 'utf8')));
  assert.ok(pids.every(processAlive));

  launcher.kill('SIGINT');
  const run = await launcher;
  assert.equal(run.exitCode, 130, run.stderr);
  assert.match(run.stderr, /SIGINT: stopping the workers/);
  const states = await tokensByState(db.couch);
  assert.deepEqual(states.todo.sort(), ['long1', 'long2', 'long3'], JSON.stringify(states));
  assert.equal(states.locked.length, 0);
  assert.match(run.stdout, /requeued 1/);
  // the token commands are gone (the workers stopped them before putting the tokens back)
  await waitFor(() => pids.every((pid) => !processAlive(pid)), { timeoutMs: 15_000, what: 'the token commands to exit' });
});
