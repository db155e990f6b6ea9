import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cleanEnv, fileLabel, waitFor, workerBin } from '@picas/testkit';
import { alive, getToken, killGroup, poolDatabase, pushTokens, readPid, tempDir, worker } from './helpers.js';

test('a pilot killed with -9 mid-token: its command is stopped, and a second pilot finishes the token once', async (t) => {
  const db = await poolDatabase(fileLabel(import.meta.url));
  const dir = tempDir();
  const runs = join(dir, 'runs.txt');
  // the first run hangs; any later run finishes at once
  await pushTokens(db.couch, [
    ['long_1', `echo "$PICAS_TOKEN_ID" >> '${runs}'; if [ ! -e '${dir}/first' ]; then touch '${dir}/first'; echo $$ > '${dir}/shell.pid'; sleep 1000; fi`],
  ]);
  const first = worker(db, ['--lease', '3s', '--worker-id', 'doomed', '--workdir', dir]);
  t.after(() => first.kill('SIGKILL'));
  const shell = await waitFor(() => readPid(join(dir, 'shell.pid')), { what: 'the first run to start' });
  t.after(() => killGroup(shell));
  first.kill('SIGKILL');
  const r1 = await first;
  assert.equal(r1.signal, 'SIGKILL');
  // the orphan guard stops the command of a pilot that died without cleaning up
  await waitFor(() => !alive(shell), { what: 'the dead pilot\'s command to be stopped', timeoutMs: 15_000 });

  const locked = await getToken(db.couch, 'long_1');
  assert.equal(locked.worker_id, 'doomed');
  assert.ok(locked.lock > 0 && locked.done === 0, 'still locked by the dead pilot');

  // a second pilot reclaims it once the lease has expired (it waits for it: todo is empty, a lease will expire)
  await waitFor(async () => (await getToken(db.couch, 'long_1')).lease_until! * 1000 <= Date.now(), { what: 'the lease to expire', timeoutMs: 10_000 });
  const second = await worker(db, ['--lease', '3s', '--worker-id', 'rescuer']);
  assert.equal(second.exitCode, 0, second.stderr);
  assert.match(second.stdout, /done 1, failed 0/);
  const tok = await getToken(db.couch, 'long_1');
  assert.equal(tok.exit_code, 0);
  assert.equal(tok.worker_id, 'rescuer');
  assert.equal(tok.attempts, 2);
  assert.equal(tok.scrub_count, 1);
  const event = tok.events!.find((e) => e.event === 'lease_expired');
  assert.ok(event, 'the reclaim is recorded');
  assert.match(event.message!, /lease of doomed expired at .*; reclaimed by rescuer/);
  assert.deepEqual(readFileSync(runs, 'utf8').trim().split('\n'), ['long_1', 'long_1'], 'started twice, finished once');
});

test('a pilot killed with -9 while holding prefetched tokens: their leases expire and another pilot runs each once', async (t) => {
  const db = await poolDatabase(`${fileLabel(import.meta.url)}-prefetch`);
  const dir = tempDir();
  const runs = join(dir, 'runs.txt');
  // the very first run hangs, any later one finishes at once; the pilot runs one token at a time, so one
  // starts and three wait in its queue
  const body = `echo "$PICAS_TOKEN_ID" >> '${runs}'; if [ ! -e '${dir}/first' ]; then touch '${dir}/first'; echo $$ > '${dir}/shell.pid'; sleep 1000; fi`;
  await pushTokens(db.couch, ['held_1', 'held_2', 'held_3', 'held_4'].map((id): [string, string] => [id, body]));
  const first = worker(db, ['--prefetch', '4', '--lease', '3s', '--worker-id', 'hoarder', '--workdir', dir]);
  t.after(() => first.kill('SIGKILL'));
  const shell = await waitFor(() => readPid(join(dir, 'shell.pid')), { what: 'the first run to start' });
  t.after(() => killGroup(shell));
  const held = await Promise.all(['held_1', 'held_2', 'held_3', 'held_4'].map((id) => getToken(db.couch, id)));
  assert.ok(held.every((tok) => tok.worker_id === 'hoarder' && tok.lock > 0), 'all four were claimed in one go');
  first.kill('SIGKILL');
  await first;
  await waitFor(() => !alive(shell), { what: 'the dead pilot\'s command to be stopped', timeoutMs: 15_000 });

  // nothing is lost: once the leases expire, a second pilot takes all four
  await waitFor(async () => (await Promise.all(held.map((tok) => getToken(db.couch, tok._id)))).every((tok) => tok.lease_until! * 1000 <= Date.now()), {
    what: 'the leases to expire',
    timeoutMs: 15_000,
  });
  const second = await worker(db, ['--lease', '3s', '--worker-id', 'rescuer']);
  assert.equal(second.exitCode, 0, second.stderr);
  assert.match(second.stdout, /done 4, failed 0/, second.stderr);
  for (const id of ['held_1', 'held_2', 'held_3', 'held_4']) {
    const tok = await getToken(db.couch, id);
    assert.equal(tok.exit_code, 0, id);
    assert.equal(tok.worker_id, 'rescuer', id);
    assert.equal(tok.scrub_count, 1, `${id}: reclaimed from the dead pilot`);
  }
  const lines = readFileSync(runs, 'utf8').trim().split('\n');
  assert.equal(lines.length, 5, 'the started token ran twice (the dead pilot never finished it), the queued ones once');
});

test('kill -9 of a pilot whose parent does not reap it (a zombie): its command (exec sleep 300) is gone within a few seconds', async (t) => {
  const db = await poolDatabase(`${fileLabel(import.meta.url)}-orphan`);
  const dir = tempDir();
  await pushTokens(db.couch, [['sleeper_1', `echo $$ > '${dir}/cmd.pid'; exec sleep 300`]]);
  // the pilot's parent starts it, then turns into a `sleep` that never waits for it: killed, the pilot stays a zombie
  const parent = execa('bash', ['-c', `"$@" & echo $! > '${dir}/pilot.pid'; exec sleep 300`, 'parent', process.execPath, workerBin, '--lease', '30s'], {
    env: cleanEnv(db.env),
    extendEnv: false,
    cwd: dir,
    stdio: 'ignore',
    detached: true,
    reject: false,
  });
  t.after(() => killGroup(parent.pid));
  const cmd = await waitFor(() => readPid(join(dir, 'cmd.pid')), { what: 'the command to start', timeoutMs: 30_000 });
  t.after(() => killGroup(cmd));
  await waitFor(() => readFileSync(`/proc/${cmd}/cmdline`, 'utf8').startsWith('sleep'), { what: 'the exec of sleep' });
  const pilotPid = readPid(join(dir, 'pilot.pid'))!;
  const killedAt = Date.now();
  process.kill(pilotPid, 'SIGKILL');
  await waitFor(() => !alive(cmd), { what: 'the dead pilot\'s command to be stopped', timeoutMs: 8_000, intervalMs: 50 });
  const tookMs = Date.now() - killedAt;
  assert.ok(tookMs < 5_000, `gone ${tookMs} ms after the kill`);
  killGroup(parent.pid);
  await parent;
});
