import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finished, lockedBy, newToken, withLease, type TokenDoc } from '@picas/core';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { getDoc, putDocs, pythonPicasToken } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));
await runCli(['init'], { env: db.env });
const nowMs = Date.now();
const claim = (id: string, atMs: number, leaseMs: number) => lockedBy(newToken(id, `run ${id}`), { workerId: 'w1', claimId: `w1:${id}`, hostname: 'node1', leaseMs, now: atMs, jobId: { field: 'slurm_job_id', value: '9_1' } });
const done = (doc: TokenDoc, exitCode: number) => finished(doc, { exitCode, started: nowMs / 1000 - 2, finished: nowMs / 1000 - 1 });

await putDocs(db.couch, [
  // locked 3 hours ago by Python PiCaS: no lease
  { ...pythonPicasToken('old_lock', 'locked'), lock: Math.floor(nowMs / 1000) - 3 * 3600 },
  // a running token with a valid lease
  claim('fresh_lock', nowMs, 3_600_000),
  // its pilot died: the lease ended 5 minutes ago
  claim('expired_lease', nowMs - 600_000, 300_000),
  done(claim('done_tok', nowMs - 5000, 60_000), 0),
  done(claim('err_1', nowMs - 5000, 60_000), 3),
  { ...done(claim('err_2', nowMs - 5000, 60_000), 1), scrub_count: 3 },
  // Python PiCaS' Task.error(): lock = done = -1
  { ...pythonPicasToken('err_picas', 'todo'), lock: -1, done: -1, error: [{ time: 1, message: 'boom' }] },
]);

const cli = (...args: string[]) => runCli(args, { env: db.env });

test('reset needs to be told which tokens', async () => {
  const r = await cli('reset');
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /say which locked tokens to reset: IDS, --older-than DURATION, --expired, or --all/);
});

test('reset --older-than (by lock time) with --dry-run first, then for real', async () => {
  const before = await getDoc(db.couch, 'old_lock');
  const dry = await cli('reset', '--older-than', '2h', '--dry-run');
  assert.equal(dry.exitCode, 0, dry.stderr);
  assert.equal(dry.stdout, 'would reset old_lock\ndry run: would reset 1 token to todo; nothing was changed');
  assert.equal((await getDoc(db.couch, 'old_lock'))._rev, before._rev);

  const r = await cli('reset', '--older-than', '2h');
  assert.equal(r.stdout, 'reset old_lock\nreset 1 token to todo');
  const after = await getDoc(db.couch, 'old_lock');
  assert.deepEqual([after.lock, after.done, after.hostname, after.scrub_count, after.exit_code], [0, 0, '', 1, '']);
  assert.equal(after.slurm_job_id, undefined, 'the job id of the lost run is removed');
  assert.match(after.events.at(-1).message, /^reset by picas reset: locked for \d+s$/);
});

test('reset --expired resets only tokens whose lease passed', async () => {
  const r = await cli('reset', '--expired');
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'reset expired_lease\nreset 1 token to todo');
  const doc = await getDoc(db.couch, 'expired_lease');
  assert.deepEqual([doc.lock, doc.done, doc.scrub_count, doc.lease_until, doc.claim_id], [0, 0, 1, 0, undefined]);
  assert.match(doc.events.at(-1).message, /lease expired at /);
  assert.equal((await getDoc(db.couch, 'fresh_lock')).lock > 0, true, 'a valid lease is left alone');
});

test('reset by id: locked ones are reset, the others are skipped with the reason', async () => {
  const expiredOnly = await cli('reset', 'fresh_lock', '--expired');
  assert.equal(expiredOnly.stdout, 'skipped fresh_lock: its lease has not expired\nreset 0 tokens to todo; skipped 1');
  const r = await cli('reset', 'fresh_lock', 'done_tok', 'no_such_token');
  // the id that names no token: the others are handled, and the exit code is not found's
  assert.equal(r.exitCode, 4, r.stderr);
  assert.equal(r.stderr.trim(), `picas: token 'no_such_token' not found in database '${db.config.db}'`);
  assert.equal(r.stdout, 'reset fresh_lock\nskipped no_such_token: not found\nskipped done_tok: not locked (done)\nreset 1 token to todo; skipped 2');
  assert.equal((await getDoc(db.couch, 'fresh_lock')).lock, 0);
});

test('a token that changed after it was read is skipped (409), never overwritten', async () => {
  const { writeScrubbed } = await import('@picas/core/ops/reset');
  await putDocs(db.couch, [claim('raced', nowMs - 600_000, 300_000)]);
  const stale = await getDoc<TokenDoc>(db.couch, 'raced');
  // meanwhile its worker renews the lease
  const renewed = withLease(stale, 3_600_000);
  await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath('raced'), body: renewed });
  const outcome = await writeScrubbed(db.couch, [{ doc: stale, message: 'reset by test' }], 'reset');
  assert.deepEqual(outcome.changed, []);
  assert.deepEqual(outcome.skipped, [{ id: 'raced', reason: 'changed since it was read (conflict): left as it is' }]);
  const now = await getDoc(db.couch, 'raced');
  assert.equal(now.lease_until, renewed.lease_until);
  assert.equal(now.scrub_count, 0);
  // and the CLI, reading it afresh, sees a valid lease
  const r = await cli('reset', '--expired', 'raced');
  assert.match(r.stdout, /skipped raced: its lease has not expired/);
});

test('retry puts error tokens back to todo, honouring --max-scrub', async () => {
  const dry = await cli('retry', '--max-scrub', '3', '--dry-run');
  assert.equal(dry.exitCode, 0, dry.stderr);
  assert.equal(dry.stdout, 'would retry err_1\nskipped err_2: scrub_count 3 reached --max-scrub 3\ndry run: would retry 1 token to todo; skipped 1; nothing was changed');
  assert.equal((await getDoc(db.couch, 'err_1')).exit_code, 3);

  const r = await cli('retry', '--max-scrub', '3');
  assert.equal(r.stdout, 'retried err_1\nskipped err_2: scrub_count 3 reached --max-scrub 3\nretried 1 token to todo; skipped 1');
  const doc = await getDoc(db.couch, 'err_1');
  assert.deepEqual([doc.lock, doc.done, doc.exit_code, doc.scrub_count], [0, 0, '', 1]);
  assert.equal(doc.error.length, 1, 'the error history is kept');
  assert.equal(doc.events.at(-1).event, 'retry');

  const byId = await cli('retry', 'err_picas', 'done_tok', 'gone_1', 'gone_2');
  assert.equal(byId.exitCode, 4, 'ids that name no token: not found');
  assert.equal(byId.stdout, 'retried err_picas\nskipped gone_1: not found\nskipped gone_2: not found\nskipped done_tok: not in error (done)\nretried 1 token to todo; skipped 3');
  assert.equal(byId.stderr.trim(), `picas: 2 tokens not found in database '${db.config.db}': gone_1, gone_2`);
  const picas = await getDoc(db.couch, 'err_picas');
  assert.deepEqual([picas.lock, picas.done, picas.scrub_count], [0, 0, 1]);

  const rest = await cli('retry');
  assert.equal(rest.stdout, 'retried err_2\nretried 1 token to todo');
  assert.equal((await getDoc(db.couch, 'err_2')).scrub_count, 4);

  const status = JSON.parse((await cli('status', '--json')).stdout);
  assert.deepEqual([status.todo, status.locked, status.done, status.error], [6, 1, 1, 0]);
});
