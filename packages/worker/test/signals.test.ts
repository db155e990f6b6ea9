import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileLabel, waitFor } from '@picas/testkit';
import { alive, getToken, killGroup, poolDatabase, pushTokens, readPid, summaryOf, tempDir, worker } from './helpers.js';

const label = fileLabel(import.meta.url);

/** A token that records its shell's pid (= its process group) and a background grandchild's pid, then waits. */
function sleeper(dir: string, extra = ''): string {
  return `${extra}echo $$ > '${join(dir, 'shell.pid')}'; sleep 1000 & echo $! > '${join(dir, 'grandchild.pid')}'; wait`;
}

async function started(dir: string): Promise<{ shell: number; grandchild: number }> {
  return waitFor(() => {
    const shell = readPid(join(dir, 'shell.pid'));
    const grandchild = readPid(join(dir, 'grandchild.pid'));
    return shell && grandchild ? { shell, grandchild } : undefined;
  }, { what: 'the token to start', timeoutMs: 20_000 });
}

test('SIGTERM during a token: it goes back to todo with the reason, no process is left, exit 0', async (t) => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  await pushTokens(couch, [['sig_requeue', sleeper(dir)]]);
  const w = worker(db, ['--kill-grace', '5s']);
  t.after(() => w.kill('SIGKILL'));
  const pids = await started(dir);
  w.kill('SIGTERM');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 0, requeued 1, lost 0/);
  const tok = await getToken(couch, 'sig_requeue');
  assert.equal(tok.lock, 0);
  assert.equal(tok.done, 0);
  assert.equal(tok.scrub_count, 1);
  assert.equal(tok.claim_id, undefined);
  assert.equal(tok.events!.at(-1)!.event, 'requeued');
  assert.match(tok.events!.at(-1)!.message!, /received SIGTERM/);
  assert.ok(!alive(pids.shell), 'the token shell is gone');
  assert.ok(!alive(pids.grandchild), 'its background child is gone too (no orphan)');
  killGroup(pids.shell);
});

test('--on-signal fail marks the running token error with the reason', async (t) => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  await pushTokens(couch, [['sig_fail', sleeper(dir)]]);
  const w = worker(db, ['--on-signal', 'fail', '--kill-grace', '5s']);
  t.after(() => w.kill('SIGKILL'));
  const pids = await started(dir);
  w.kill('SIGINT');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 1, requeued 0/);
  const tok = await getToken(couch, 'sig_fail', { attachments: true });
  assert.ok(tok.lock > 0 && tok.done > 0);
  assert.notEqual(tok.exit_code, 0);
  assert.match(tok.error!.at(-1)!.message!, /stopped: received SIGINT \(--on-signal fail\)/);
  assert.ok(tok._attachments?.['logs_sig_fail.out'], 'the logs so far are kept');
  assert.ok(!alive(pids.shell) && !alive(pids.grandchild));
  killGroup(pids.shell);
});

test('under Slurm the token may die of SIGTERM just before the pilot gets it: still requeued, not failed', async (t) => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  await pushTokens(couch, [['sig_slurm', sleeper(dir)]]);
  const w = worker(db, ['--kill-grace', '5s']);
  t.after(() => w.kill('SIGKILL'));
  const pids = await started(dir);
  process.kill(-pids.shell, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  w.kill('SIGTERM');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /failed 0, requeued 1/);
  const tok = await getToken(couch, 'sig_slurm');
  assert.equal(tok.lock, 0);
  assert.equal(tok.exit_code, '');
  assert.equal(summaryOf(r.stderr).failed, 0);
});

test('a command that ignores SIGTERM is killed after --kill-grace; a second signal exits at once', async (t) => {
  const db = await poolDatabase(label);
  const { couch } = db;
  const dir = tempDir();
  await pushTokens(couch, [['sig_stubborn', sleeper(dir, 'trap "" TERM; ')]]);
  const graceful = worker(db, ['--kill-grace', '1s']);
  t.after(() => graceful.kill('SIGKILL'));
  let pids = await started(dir);
  graceful.kill('SIGTERM');
  const r = await graceful;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /requeued 1/);
  assert.ok(!alive(pids.shell) && !alive(pids.grandchild), 'SIGKILL after the grace period');

  const dir2 = tempDir();
  const before = await getToken(couch, 'sig_stubborn', {});
  await couch.http.expectOk({ method: 'PUT', path: couch.http.docPath('sig_stubborn'), body: { ...before, input: sleeper(dir2, 'trap "" TERM; ') } });
  // it exits without cleaning up: its work root goes in a temp dir of the test's
  const hasty = worker(db, ['--kill-grace', '60s', '--workdir', tempDir(), '--worker-id', 'sig-hasty', '--lease', '60s']);
  t.after(() => hasty.kill('SIGKILL'));
  pids = await started(dir2);
  hasty.kill('SIGTERM');
  await new Promise((res) => setTimeout(res, 300));
  hasty.kill('SIGTERM');
  const r2 = await hasty;
  assert.equal(r2.exitCode, 143, r2.stderr);
  assert.match(r2.stderr, /second SIGTERM: exiting at once/);
  // its record says it stopped (it would otherwise show running until it is lost)
  const record = await couch.http.expectOk<{ state: string; stop_reason?: string }>({ path: couch.http.docPath('pilot:sig-hasty') });
  assert.equal(record.state, 'stopped');
  assert.match(String(record.stop_reason), /second SIGTERM: exiting at once/);
  const tok = await getToken(couch, 'sig_stubborn');
  assert.ok(tok.lock > 0 && tok.done === 0 && tok.lease_until! > 0, 'left locked, with a lease that will expire');
  await waitFor(() => !alive(pids.shell) && !alive(pids.grandchild), { what: 'the process group to be killed', timeoutMs: 5000 });
  killGroup(pids.shell);
});


test('a signal while the worker waits for an unreachable CouchDB stops it cleanly (exit 0)', async (t) => {
  const db = await poolDatabase(label);
  const w = worker(db, ['--retry-for', '60s'], { env: { PICAS_URL: 'http://127.0.0.1:9' } });
  t.after(() => w.kill('SIGKILL'));
  // wait for the condition (the pilot is retrying, its handlers are in place), never for a fixed time
  let seen = '';
  w.stderr!.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  await waitFor(() => /CouchDB unavailable, retrying/.test(seen), { what: 'the retrying line', timeoutMs: 60_000 });
  w.kill('SIGTERM');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stderr, /CouchDB unavailable, retrying/);
  assert.match(r.stdout, /done 0, failed 0, requeued 0, lost 0/);
});

test('--max-time stops the pilot: running tokens go back to todo, exit 0', async (t) => {
  const db = await poolDatabase(label);
  const dir = tempDir();
  await pushTokens(db.couch, [['maxtime_1', sleeper(dir)], ['maxtime_2', 'true', { priority: -1 }]]);
  const w = worker(db, ['--max-time', '2s', '--kill-grace', '2s']);
  t.after(() => w.kill('SIGKILL'));
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 0, requeued 1, lost 0/);
  const tok = await getToken(db.couch, 'maxtime_1');
  assert.equal(tok.lock, 0);
  assert.match(tok.events!.at(-1)!.message!, /--max-time 2s reached/);
  assert.equal((await getToken(db.couch, 'maxtime_2')).lock, 0, 'nothing else was claimed');
});

test('prefetched tokens that never started go back to todo on a signal too', async (t) => {
  const db = await poolDatabase(label);
  const dir = tempDir();
  await pushTokens(db.couch, [['pre_0', sleeper(dir), { priority: 9 }], ...[1, 2, 3].map((i) => [`pre_${i}`, 'sleep 1000'] as [string, string])]);
  const w = worker(db, ['--prefetch', '4', '--kill-grace', '2s']);
  t.after(() => w.kill('SIGKILL'));
  const pids = await started(dir);
  w.kill('SIGTERM');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 0, requeued 4, lost 0/);
  for (const id of ['pre_0', 'pre_1', 'pre_2', 'pre_3']) {
    const tok = await getToken(db.couch, id);
    assert.equal(tok.lock, 0, id);
    assert.equal(tok.attempts, 1, id);
  }
  assert.match((await getToken(db.couch, 'pre_3')).events!.at(-1)!.message!, /stopped before starting it/);
  assert.ok(!alive(pids.shell));
});
