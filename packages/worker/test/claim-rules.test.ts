// Pure rules of the claim, fencing and completion operations (the end-to-end tests drive them for real).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobIdFields, lockedBy, newToken, type TokenDoc } from '@picas/core';
import { claimability, claimBody, newClaimId } from '@picas/core/ops/claim';
import { withResult } from '@picas/core/ops/complete';
import { whyNotHeld } from '@picas/core/ops/fenced-update';
import { claimQuorumIsUnsafe, claimWriteQuorum } from '@picas/core/ops/replicas';
import { commandFor, tokenEnv } from '../src/token-command.js';

const now = 1_750_000_000_000;
const claim = { workerId: 'w1', claimId: 'w1:aaa', hostname: 'node1', leaseMs: 60_000, now };

test('only a todo or lease-expired token with a single leaf is claimable, judged on the document', () => {
  const todo = { ...newToken('t', 'x'), _rev: '1-a' };
  assert.equal(claimability(todo, true, now), 'todo');
  assert.equal(claimability({ ...todo, _conflicts: ['1-b'] }, true, now), 'conflicted');
  assert.equal(claimability({ ...todo, type: 'note' }, true, now), 'stale');
  assert.equal(claimability(undefined, true, now), 'stale');
  const locked = lockedBy(todo, claim);
  assert.equal(claimability(locked, true, now), 'stale', 'a stale view row: already claimed');
  assert.equal(claimability(locked, true, now + 61_000), 'expired');
  assert.equal(claimability(locked, false, now + 61_000), 'stale', 'reclaiming can be turned off');
  assert.equal(claimability({ ...locked, _conflicts: ['2-x'] }, true, now + 61_000), 'conflicted');
  assert.equal(claimability({ ...locked, done: 5, exit_code: 0 }, true, now + 61_000), 'stale');
});

test('a claim body carries the read _rev and a claim id unique to the claim; a reclaim scrubs first', () => {
  const todo = { ...newToken('t', 'x'), _rev: '1-a' };
  const body = claimBody(todo, claim, false);
  assert.equal(body._rev, '1-a');
  assert.equal(body.claim_id, 'w1:aaa');
  assert.equal(body.lease_until, Math.ceil((now + 60_000) / 1000));
  assert.equal(body.scrub_count, 0);
  const ids = new Set(Array.from({ length: 100 }, () => newClaimId('w1')));
  assert.equal(ids.size, 100);
  const dead = { ...lockedBy(todo, { ...claim, workerId: 'dead', claimId: 'dead:1' }), _rev: '2-b' };
  const reclaim = claimBody(dead, { ...claim, now: now + 120_000 }, true);
  assert.equal(reclaim._rev, '2-b');
  assert.equal(reclaim.claim_id, 'w1:aaa');
  assert.equal(reclaim.worker_id, 'w1');
  assert.equal(reclaim.scrub_count, 1);
  assert.equal(reclaim.attempts, 2);
  assert.equal(reclaim.events!.at(-1)!.event, 'lease_expired');
  assert.match(reclaim.events!.at(-1)!.message!, /lease of dead expired/);
  assert.equal(claimBody({ ...todo, _conflicts: ['1-z'] } as TokenDoc, claim, false)._conflicts, undefined);
});

test('fencing: a token is ours only with our claim id, locked, and a single leaf', () => {
  const mine = lockedBy({ ...newToken('t', 'x'), _rev: '1-a' }, claim);
  assert.equal(whyNotHeld(mine, 'w1:aaa'), undefined);
  assert.equal(whyNotHeld(undefined, 'w1:aaa')?.lost, 'deleted');
  assert.equal(whyNotHeld({ ...mine, _conflicts: ['2-b'] }, 'w1:aaa')?.lost, 'conflict');
  assert.equal(whyNotHeld({ ...mine, lock: 0, claim_id: undefined }, 'w1:aaa')?.lost, 'reset');
  assert.equal(whyNotHeld({ ...mine, claim_id: 'w2:bbb', worker_id: 'w2' }, 'w1:aaa')?.message, 'the token was claimed by w2');
  assert.equal(whyNotHeld({ ...mine, done: 7, exit_code: 0 }, 'w1:aaa')?.lost, 'finished');
  assert.equal(whyNotHeld({ ...mine, lock: 0 }, 'w1:aaa')?.lost, 'reset');
});

test('a result: done or error, or back to todo under --max-scrub', () => {
  const mine = lockedBy({ ...newToken('t', 'x'), _rev: '1-a' }, claim);
  const ok = withResult(mine, { exitCode: 0, started: 10, finished: 12 });
  assert.equal(ok.exit_code, 0);
  assert.ok(ok.done > 0);
  const bad = withResult(mine, { exitCode: 2, started: 10, finished: 12 }, { maxScrub: 1 });
  assert.equal(bad.lock, 0, 'retry: back to todo');
  assert.equal(bad.scrub_count, 1);
  assert.equal(bad.error!.at(-1)!.message, 'exit code 2');
  const final = withResult({ ...mine, scrub_count: 1 }, { exitCode: 2, started: 10, finished: 12 }, { maxScrub: 1 });
  assert.ok(final.done > 0 && final.exit_code === 2, 'out of retries: error');
});

test('claims use w = n on a cluster, nothing on a single node; a lower quorum is flagged unsafe', () => {
  assert.equal(claimWriteQuorum({ n: 1, clustered: false }, 'all'), undefined);
  assert.equal(claimWriteQuorum({ n: 3, clustered: true }, 'all'), 3);
  assert.equal(claimWriteQuorum({ n: 3, clustered: true }, 2), 2);
  assert.equal(claimWriteQuorum({ n: 3, clustered: true }, 5), 3);
  assert.equal(claimQuorumIsUnsafe({ n: 3, clustered: true }, 2), true);
  assert.equal(claimQuorumIsUnsafe({ n: 3, clustered: true }, 'all'), false);
  assert.equal(claimQuorumIsUnsafe({ n: 1, clustered: true }, 1), false);
});

test('the command, its environment and the Slurm fields', () => {
  const t = newToken('t1', { a: 1 });
  assert.equal(commandFor(t), undefined);
  assert.equal(commandFor(t, 'run.sh'), 'run.sh');
  assert.equal(commandFor(newToken('t2', 'echo hi')), 'echo hi');
  assert.deepEqual(tokenEnv({ HOME: '/h', PICAS_PASSWORD: 'secret' }, t), { HOME: '/h', PICAS_TOKEN_ID: 't1', PICAS_TOKEN_INPUT: '{"a":1}' }, 'never the password');
  assert.equal(tokenEnv({}, newToken('t2', 'echo hi')).PICAS_TOKEN_INPUT, 'echo hi');
  assert.deepEqual(jobIdFields({}), { jobId: undefined });
  assert.deepEqual(jobIdFields({ SLURM_JOB_ID: '12' }), { jobId: { field: 'slurm_job_id', value: '12' }, extra: { slurm_job_id_raw: '12' } });
  assert.deepEqual(jobIdFields({ PBS_JOBID: '7.pbs' }), { jobId: { field: 'pbs_job_id', value: '7.pbs' } });
});
