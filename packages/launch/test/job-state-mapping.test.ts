/**
 * The scheduler states onto the one PilotJobState: Slurm's squeue/scontrol words and short codes,
 * FirecREST's parsed states (and the NOT_FOUND `status` remembers), and local worker exits. Final stays
 * final: every state FirecREST's client calls final maps to a final PilotJobState, and no other does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFinalJobState, JOB_STATES } from '@picas/firecrest';
import { firecrestJobState, isFinalPilotJobState, isFinishedFirecrestState, localWorkerState, PILOT_JOB_STATES, slurmJobState, countPilotStates } from '@picas/launch';

test('slurmJobState: squeue long names, short codes, scontrol suffixes', () => {
  const cases: Array<[string, string]> = [
    ['PENDING', 'pending'],
    ['PD', 'pending'],
    ['CONFIGURING', 'pending'],
    ['REQUEUE_HOLD', 'pending'],
    ['RUNNING', 'running'],
    ['R', 'running'],
    ['COMPLETING', 'running'],
    ['CG', 'running'],
    ['SUSPENDED', 'running'],
    ['COMPLETED', 'completed'],
    ['CD', 'completed'],
    ['FAILED', 'failed'],
    ['OUT_OF_MEMORY', 'failed'],
    ['OOM', 'failed'],
    ['CANCELLED', 'cancelled'],
    ['CANCELLED by 1000', 'cancelled'],
    ['cancelled+', 'cancelled'],
    ['CA', 'cancelled'],
    ['TIMEOUT', 'timeout'],
    ['TO', 'timeout'],
    ['DEADLINE', 'timeout'],
    ['PREEMPTED', 'preempted'],
    ['PR', 'preempted'],
    ['NODE_FAIL', 'node_failure'],
    ['NF', 'node_failure'],
    ['BOOT_FAIL', 'node_failure'],
    ['  RUNNING  ', 'running'],
    ['RUNNINGX', 'unknown'],
    ['', 'unknown'],
    ['WHATEVER', 'unknown'],
  ];
  for (const [raw, state] of cases) assert.equal(slurmJobState(raw), state, raw);
  assert.equal(slurmJobState(undefined), 'unknown');
});

test('firecrestJobState: every FirecREST state maps, final exactly where the client says final; NOT_FOUND is unknown', () => {
  for (const state of JOB_STATES) {
    const mapped = firecrestJobState(state);
    assert.ok(PILOT_JOB_STATES.includes(mapped), state);
    assert.notEqual(mapped, 'unknown', state);
    assert.equal(isFinalPilotJobState(mapped), isFinalJobState(state), state);
    // the same word means the same whichever way it was read
    assert.equal(mapped, slurmJobState(state), state);
  }
  assert.equal(firecrestJobState('UNKNOWN'), 'unknown');
  assert.equal(firecrestJobState('NOT_FOUND'), 'unknown');
  assert.equal(isFinishedFirecrestState('NOT_FOUND'), true);
  assert.equal(isFinishedFirecrestState('COMPLETED'), true);
  assert.equal(isFinishedFirecrestState('RUNNING'), false);
  assert.equal(isFinishedFirecrestState(undefined), false);
});

test('localWorkerState: running until it exits; completed, cancelled by the launcher, or failed', () => {
  assert.equal(localWorkerState(undefined, false), 'running');
  assert.equal(localWorkerState(undefined, true), 'running');
  assert.equal(localWorkerState({ index: 1, exitCode: 0, ok: true }, false), 'completed');
  // a worker exits 0 after a handled SIGTERM
  assert.equal(localWorkerState({ index: 1, exitCode: 0, ok: true }, true), 'cancelled');
  assert.equal(localWorkerState({ index: 1, exitCode: 143, ok: false }, true), 'cancelled');
  assert.equal(localWorkerState({ index: 1, exitCode: 130, ok: false }, true), 'cancelled');
  assert.equal(localWorkerState({ index: 1, signal: 'SIGKILL', ok: false }, true), 'cancelled');
  assert.equal(localWorkerState({ index: 1, signal: 'SIGKILL', ok: false }, false), 'failed');
  assert.equal(localWorkerState({ index: 1, exitCode: 143, ok: false }, false), 'failed');
  assert.equal(localWorkerState({ index: 1, exitCode: 3, ok: false }, true), 'failed');
  assert.equal(localWorkerState({ index: 1, ok: false, startError: 'nope not found' }, false), 'failed');
});

test('final states and counting', () => {
  const final = PILOT_JOB_STATES.filter(isFinalPilotJobState);
  assert.deepEqual(final, ['completed', 'failed', 'cancelled', 'timeout', 'preempted', 'node_failure']);
  assert.deepEqual(countPilotStates([{ state: 'running' }, { state: 'pending' }, { state: 'running' }]), { pending: 1, running: 2 });
});
