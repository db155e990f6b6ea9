/**
 * The autoscaler's decision, table by table: demand, unschedulable tokens, supply, shapes, caps,
 * surplus; and the failure accounting (backoff, pauses, what is no failure).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AutoscalerDoc, AutoscalerPilot } from '@picas/core';
import { decide, percentile90, type DecisionInput, type DecisionSettings, type LivePilot, type WaitingToken } from '../src/decision.js';
import { afterPilotsEnded, afterSubmitFailure, afterSubmitSuccess, isFailedStart, PAUSE_AFTER_SUBMIT_FAILURES } from '../src/failure-accounting.js';
import { reconcilePilots } from '../src/pilot-ledger.js';
import { cycleLine } from '../src/cycle-line.js';

const ONE = { cpus: 1, gpus: 0, mem: 0 };
const NOW = 1_000_000;
const settings: DecisionSettings = {
  maxPilots: 10,
  minPilots: 0,
  maxPending: 10,
  maxSubmit: 10,
  walltimeS: 1030,
  pilotMarginS: 30,
  largestShape: { cpus: 1, gpus: 0, mem: 0 },
  defaultTokenSeconds: 60,
  surplusCycles: 3,
};

function tokens(n: number, expectedS?: number, needs = ONE): WaitingToken[] {
  return Array.from({ length: n }, () => ({ needs, ...(expectedS === undefined ? {} : { expectedS }) }));
}

function pilots(n: number, state: 'pending' | 'running', startedS?: number): LivePilot[] {
  return Array.from({ length: n }, (_, i) => ({ jobId: `${state}${i}`, state, cpus: 1, submittedS: NOW - 100 + i, ...(startedS === undefined ? {} : { startedS }) }));
}

function input(over: Partial<DecisionInput>): DecisionInput {
  return { todo: [], running: [], finishedRunSeconds: [], pilots: [], surplusStreak: 0, nowS: NOW, ...over, settings: { ...settings, ...over.settings } };
}

describe('demand', () => {
  const cases: Array<[string, Partial<DecisionInput>, { demandS: number; submit: number }]> = [
    // usable time per pilot = 1030 - 30 = 1000 s
    ['declared expected_seconds', { todo: tokens(30, 100) }, { demandS: 3000, submit: 3 }],
    ['no expected_seconds: the 90th percentile of finished run times', { todo: tokens(10), finishedRunSeconds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 500] }, { demandS: 90, submit: 1 }],
    ['no expected_seconds, nothing finished: the default', { todo: tokens(50) }, { demandS: 3000, submit: 3 }],
    ['running tokens add what they have left', { todo: tokens(5, 100), running: [{ needs: ONE, expectedS: 1000, elapsedS: 400 }] }, { demandS: 1100, submit: 2 }],
    ['a running token past its estimate adds nothing', { running: [{ needs: ONE, expectedS: 10, elapsedS: 400 }] }, { demandS: 0, submit: 0 }],
    ['no more pilots than the work could keep busy', { todo: tokens(2, 900) }, { demandS: 1800, submit: 2 }],
    ['cores count: a 4-core token is four times the work', { todo: tokens(1, 1000, { cpus: 4, gpus: 0, mem: 0 }), settings: { ...settings, largestShape: { cpus: 4, gpus: 0, mem: 0 } } }, { demandS: 4000, submit: 1 }],
  ];
  for (const [name, given, want] of cases) {
    test(name, () => {
      const d = decide(input(given));
      assert.equal(d.demandS, want.demandS);
      assert.equal(d.submit, want.submit);
    });
  }
});

describe('unschedulable tokens are counted and never a reason to submit', () => {
  const cases: Array<[string, WaitingToken, RegExp]> = [
    ['longer than the walltime', { needs: ONE, expectedS: 5000 }, /expected 5000 s > 1000 s/],
    ['more cpus than the largest pilot', { needs: { cpus: 8, gpus: 0, mem: 0 } }, /8 cpus > 1/],
    ['GPUs where pilots have none', { needs: { cpus: 1, gpus: 1, mem: 0 } }, /1 GPUs > 0/],
    ['more memory than a pilot asks', { needs: { cpus: 1, gpus: 0, mem: 64 * 1024 ** 3 } }, /memory/],
  ];
  for (const [name, token, why] of cases) {
    test(name, () => {
      const d = decide(input({ todo: [token, token], settings: { ...settings, largestShape: { cpus: 1, gpus: 0, mem: 16 * 1024 ** 3 } } }));
      assert.equal(d.unschedulable, 2);
      assert.match(d.unschedulableWhy!, why);
      assert.equal(d.submit, 0);
      assert.equal(d.demandS, 0);
      assert.match(d.why!, /nothing that fits/);
    });
  }
  test('next to schedulable work, only the schedulable counts', () => {
    const d = decide(input({ todo: [...tokens(2, 5000), ...tokens(10, 100)] }));
    assert.deepEqual([d.unschedulable, d.demandS, d.submit], [2, 1000, 1]);
  });
});

describe('supply', () => {
  const cases: Array<[string, LivePilot[], { supplyS: number; submit: number }]> = [
    ['a pending pilot gives its whole usable walltime', pilots(2, 'pending'), { supplyS: 2000, submit: 1 }],
    ['a running pilot what it has left', pilots(2, 'running', NOW - 600), { supplyS: 800, submit: 3 }],
    ['a pilot at its end gives nothing', pilots(3, 'running', NOW - 5000), { supplyS: 0, submit: 3 }],
    ['enough supply: nothing to submit', pilots(3, 'pending'), { supplyS: 3000, submit: 0 }],
  ];
  for (const [name, live, want] of cases) {
    test(name, () => {
      const d = decide(input({ todo: tokens(30, 100), pilots: live }));
      assert.equal(d.supplyS, want.supplyS);
      assert.equal(d.submit, want.submit);
    });
  }
});

describe('caps', () => {
  const cases: Array<[string, Partial<DecisionInput>, number, RegExp | undefined]> = [
    ['max pilots', { pilots: pilots(9, 'running', NOW) }, 1, undefined],
    ['at the cap', { pilots: pilots(10, 'running', NOW) }, 0, /at the cap \(10\)/],
    ['a cap lowered by a job limit', { capLoweredTo: 4, pilots: pilots(2, 'running', NOW) }, 2, undefined],
    ['max pending', { settings: { ...settings, maxPending: 2 }, pilots: pilots(2, 'pending') }, 0, /2 pending already/],
    ['max submit per cycle', { settings: { ...settings, maxSubmit: 3 } }, 3, undefined],
    ['min pilots without work', { todo: [], settings: { ...settings, minPilots: 2 } }, 2, undefined],
  ];
  for (const [name, given, submit, why] of cases) {
    test(name, () => {
      const d = decide(input({ todo: tokens(500, 1000), ...given }));
      assert.equal(d.submit, submit);
      if (why) assert.match(d.why!, why);
    });
  }
});

describe('shapes', () => {
  const largest = { cpus: 8, gpus: 4, mem: 64 * 1024 ** 3 };
  test('GPUs and memory only when what waits asks for them; the cores of the largest pilot', () => {
    const d = decide(input({ todo: tokens(4, 100, { cpus: 2, gpus: 0, mem: 0 }), settings: { ...settings, largestShape: largest } }));
    assert.deepEqual(d.shape, { cpus: 8, gpus: 0, mem: 0 });
    const g = decide(input({ todo: [...tokens(4, 100), ...tokens(1, 100, { cpus: 1, gpus: 2, mem: 8 * 1024 ** 3 })], settings: { ...settings, largestShape: largest } }));
    assert.deepEqual(g.shape, { cpus: 8, gpus: 2, mem: 8 * 1024 ** 3 });
  });
  test('one 8-core pilot takes eight 1-core lanes', () => {
    const d = decide(input({ todo: tokens(8, 900), settings: { ...settings, largestShape: { cpus: 8, gpus: 0, mem: 0 } } }));
    assert.equal(d.submit, 1);
  });
});

describe('surplus: only pending pilots, only after several cycles', () => {
  test('no work: pending pilots are cancelled on the third cycle, running ones never', () => {
    const live = [...pilots(2, 'pending'), ...pilots(3, 'running', NOW)];
    let streak = 0;
    for (let cycle = 1; cycle <= 3; cycle++) {
      const d = decide(input({ pilots: live, surplusStreak: streak }));
      if (cycle < 3) {
        assert.deepEqual(d.cancel, [], `cycle ${cycle}`);
        assert.match(d.why!, new RegExp(`surplus of 2 pending for ${cycle} of 3`));
      } else {
        assert.deepEqual(d.cancel, ['pending1', 'pending0'], 'newest first, pending only');
      }
      streak = d.surplusStreak;
    }
  });
  test('a surplus that ends resets the count', () => {
    const d = decide(input({ todo: tokens(100, 100), pilots: pilots(2, 'pending'), surplusStreak: 2 }));
    assert.equal(d.surplusStreak, 0);
    assert.deepEqual(d.cancel, []);
  });
  test('only the surplus beyond the demand, and never below min pilots', () => {
    const d = decide(input({ todo: tokens(10, 100), pilots: pilots(4, 'pending'), surplusStreak: 2 }));
    assert.equal(d.cancel.length, 3, 'one pending pilot covers the 1000 s of work');
    const m = decide(input({ pilots: pilots(4, 'pending'), surplusStreak: 2, settings: { ...settings, minPilots: 3 } }));
    assert.equal(m.cancel.length, 1);
  });
  test('only running pilots and no work: nothing to cancel', () => {
    const d = decide(input({ pilots: pilots(3, 'running', NOW), surplusStreak: 5 }));
    assert.deepEqual(d.cancel, []);
    assert.match(d.why!, /no work waits/);
  });
});

test('percentile90', () => {
  assert.equal(percentile90([]), undefined);
  assert.equal(percentile90([5]), 5);
  assert.equal(percentile90([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 9);
});

describe('failures', () => {
  const none: AutoscalerDoc['failures'] = { submit_in_row: 0, failed_starts_in_row: 0 };
  test('failed submissions back off 1, 5, 15, 30 min and pause after 10 in a row', () => {
    let f = none;
    const waits: number[] = [];
    for (let i = 1; i <= PAUSE_AFTER_SUBMIT_FAILURES; i++) {
      const out = afterSubmitFailure(f, 'sbatch: error: Socket timed out', 0, NOW);
      f = out.failures;
      waits.push(f.next_submit_at! - NOW);
      assert.equal(!!out.paused, i === PAUSE_AFTER_SUBMIT_FAILURES, `pause after ${i}`);
    }
    assert.deepEqual(waits.slice(0, 5), [60, 300, 900, 1800, 1800]);
    assert.deepEqual(afterSubmitSuccess(f), { submit_in_row: 0, failed_starts_in_row: 0, last_error: 'sbatch: error: Socket timed out' });
  });
  test('an error every retry would repeat pauses at once', () => {
    const out = afterSubmitFailure(none, 'sbatch exited 1: sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed', 2, NOW);
    assert.match(out.paused!.reason, /^submission failed: .*invalid partition specified: nope sbatch: error: Batch/);
    assert.equal(out.paused!.resume, 'picas autoscale resume');
  });
  test('a job limit lowers the cap instead', () => {
    const out = afterSubmitFailure(none, 'sbatch: error: QOSMaxSubmitJobPerUserLimit', 7, NOW);
    assert.equal(out.capLoweredTo, 7);
    assert.equal(out.failures.submit_in_row, 0);
    assert.equal(out.paused, undefined);
  });
  const pilot = (over: Partial<AutoscalerPilot>): AutoscalerPilot => ({ backend: 'slurm', job_id: '1', state: 'failed', submitted: NOW - 100, started: NOW - 20, ended: NOW, ...over });
  const starts: Array<[string, Partial<AutoscalerPilot>, boolean, boolean]> = [
    ['failed within a minute, no token', {}, true, true],
    ['completed within a minute without a record (never reached the pool)', { state: 'completed' }, false, true],
    ['completed within a minute with a record (found the pool empty)', { state: 'completed' }, true, false],
    ['ran a token', { tokens_run: 1 }, true, false],
    ['lasted longer than a minute', { started: NOW - 600 }, true, false],
    ['timeout', { state: 'timeout' }, false, false],
    ['preempted', { state: 'preempted' }, false, false],
    ['node failure', { state: 'node_failure' }, false, false],
  ];
  for (const [name, over, hadRecord, failed] of starts) {
    test(`failed start? ${name}: ${failed}`, () => assert.equal(isFailedStart(pilot(over), hadRecord), failed));
  }
  test('three failed starts in a row pause; a good pilot between resets the count; preemption is neutral', () => {
    const bad = { pilot: pilot({}), hadRecord: true };
    const good = { pilot: pilot({ tokens_run: 3 }), hadRecord: true };
    const preempted = { pilot: pilot({ state: 'preempted' }), hadRecord: true };
    assert.equal(afterPilotsEnded(none, [bad, bad, good, bad, preempted, bad], NOW).paused, undefined);
    const out = afterPilotsEnded(none, [bad, preempted, bad, bad], NOW);
    assert.match(out.paused!.reason, /3 pilots in a row ended within 60 s without running a token/);
  });
});

describe('the pilot ledger', () => {
  test('a job named after the pool that the state does not know is adopted (no duplicate after a restart)', () => {
    const r = reconcilePilots([], [{ jobId: '77', name: 'picas-pool', state: 'pending', rawState: 'PENDING' }], [], 'slurm', NOW);
    assert.deepEqual(r.pilots.map((p) => [p.job_id, p.state]), [['77', 'pending']]);
  });
  test('a job missing from one answer is gone only after the second', () => {
    const known: AutoscalerPilot[] = [{ backend: 'slurm', job_id: '5', state: 'running', submitted: NOW - 50, started: NOW - 40 }];
    const once = reconcilePilots(known, [], [], 'slurm', NOW);
    assert.equal(once.ended.length, 0);
    assert.equal(once.pilots[0]!.missing_cycles, 1);
    const twice = reconcilePilots(once.pilots, [], [], 'slurm', NOW + 1);
    assert.equal(twice.ended.length, 1);
    assert.equal(twice.pilots[0]!.state, 'unknown');
  });
});

test('the cycle line', () => {
  const d = decide(input({ todo: [...tokens(840, 100), ...tokens(2, 99_999)], pilots: [...pilots(8, 'running', NOW), ...pilots(2, 'pending')] }));
  assert.match(cycleLine(d, { submitted: 0, cancelled: 0 }), /^todo 842 \(23\.3 h of work\) · unschedulable 2 \(expected 99999 s > 1000 s .*\) · pilots 8 running, 2 pending of 10 · nothing to do: at the cap \(10\)$/);
});
