import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finished, isHeldBy, leaseExpired, lockedBy, newToken, scrubbed, tokenState, withLease } from '../src/token.js';
import { jobIdFromEnv } from '../src/pilot-identity.js';

const claim = { workerId: 'w1', claimId: 'w1:abc', hostname: 'node1', leaseMs: 60_000, now: 1_700_000_000_000 };

test('a new token is todo with the PiCaS base fields', () => {
  const t = newToken('token_1', 'echo hi');
  assert.equal(tokenState(t), 'todo');
  assert.deepEqual([t.type, t.lock, t.done, t.hostname, t.scrub_count, t.exit_code], ['token', 0, 0, '', 0, '']);
});

test('todo → locked → done and → error follow the Monitor view conditions', () => {
  const locked = lockedBy(newToken('t', 'x'), { ...claim, jobId: { field: 'slurm_job_id', value: '7_1' } });
  assert.equal(tokenState(locked), 'locked');
  assert.equal(locked.attempts, 1);
  assert.equal(locked.slurm_job_id, '7_1');
  assert.equal(locked.lease_until, 1_700_000_060);
  assert.ok(isHeldBy(locked, 'w1:abc'));
  assert.ok(!isHeldBy(locked, 'w2:abc'));
  const done = finished(locked, { exitCode: 0, started: 1_700_000_001, finished: 1_700_000_002.5 });
  assert.equal(tokenState(done), 'done');
  assert.equal(done.run_seconds, 1.5);
  const failed = finished(locked, { exitCode: 3, started: 1_700_000_001, finished: 1_700_000_002, reason: 'boom' });
  assert.equal(tokenState(failed), 'error');
  assert.equal(failed.error!.at(-1)!.message, 'boom');
  assert.ok(!isHeldBy(done, 'w1:abc'));
});

test('scrub returns a token to todo, counts it, and clears the lock fields', () => {
  const locked = lockedBy(newToken('t', 'x'), { ...claim, jobId: { field: 'pbs_job_id', value: '9' } });
  const back = scrubbed(locked, 'reset', 'lease expired', 1_700_000_100_000);
  assert.equal(tokenState(back), 'todo');
  assert.equal(back.scrub_count, 1);
  assert.equal(back.pbs_job_id, undefined);
  assert.equal(back.claim_id, undefined);
  assert.equal(back.events!.at(-1)!.message, 'lease expired');
});

test('leases expire and renew', () => {
  const locked = lockedBy(newToken('t', 'x'), claim);
  assert.ok(!leaseExpired(locked, claim.now + 59_000));
  assert.ok(leaseExpired(locked, claim.now + 60_000));
  assert.ok(!leaseExpired(withLease(locked, 60_000, claim.now + 50_000), claim.now + 100_000));
});

test('job ids follow PiCaS order', () => {
  assert.deepEqual(jobIdFromEnv({ SLURM_ARRAY_JOB_ID: '5', SLURM_ARRAY_TASK_ID: '2', SLURM_JOB_ID: '8' }), { field: 'slurm_job_id', value: '5_2' });
  assert.deepEqual(jobIdFromEnv({ SLURM_JOB_ID: '8' }), { field: 'slurm_job_id', value: '8' });
  assert.deepEqual(jobIdFromEnv({ PBS_JOBID: '1', SLURM_JOB_ID: '8' }), { field: 'pbs_job_id', value: '1' });
  assert.equal(jobIdFromEnv({}), undefined);
});

test('PiCaS error tokens (lock=99, done=99) classify by exit_code', () => {
  assert.equal(tokenState({ lock: 99, done: 99, exit_code: 1 }), 'error');
  assert.equal(tokenState({ lock: 99, done: 99, exit_code: '0' }), 'done');
});
