/**
 * The autoscaler's decision: a pure function of the pool (the work that waits and runs) and the pilots
 * (running and pending), with no I/O, so that every case is a table row in a unit test.
 *
 * - Demand is the work that can run: todo tokens (each its `expected_seconds`, else the 90th percentile of
 *   finished tokens' run times, else `defaultTokenSeconds`) plus what running tokens still have to go.
 *   Tokens waiting on dependencies are not todo, so they are not demand until released.
 * - A token that cannot fit the pilots' walltime (its declared `expected_seconds`) or the largest pilot
 *   shape is unschedulable: counted, reported, never a reason to submit.
 * - Supply is what the pilots that run or wait can still give: a pending pilot its whole usable walltime,
 *   a running one what it has left.
 * - Work and time are counted in core-seconds, so a 4-core pilot gives four times what a 1-core one does.
 * - The shortfall is submitted within the caps (max pilots, a cap lowered by a scheduler limit, max
 *   pending, max per cycle), never more pilots than the waiting work could keep busy.
 * - A surplus cancels only pending pilots, and only once it has lasted `surplusCycles` cycles; running
 *   pilots are never cancelled: they leave by themselves when nothing fits them.
 */
import type { Resources } from '@picas/core';

/** A todo token as the decision sees it. */
export interface WaitingToken {
  needs: Resources;
  /** its declared `expected_seconds` */
  expectedS?: number;
}

/** A running (locked) token. */
export interface RunningToken {
  needs: Resources;
  expectedS?: number;
  /** seconds since its command started */
  elapsedS: number;
}

/** A pilot that is pending or running now. */
export interface LivePilot {
  jobId: string;
  state: 'pending' | 'running';
  cpus: number;
  /** epoch seconds: when it started running (unknown: counted from now) */
  startedS?: number;
  /** epoch seconds */
  submittedS: number;
}

export interface DecisionSettings {
  maxPilots: number;
  minPilots: number;
  maxPending: number;
  maxSubmit: number;
  /** the pilots' time limit */
  walltimeS: number;
  /** what a pilot cannot use of its walltime: the worker keeps a margin free at its end (its --budget-margin) */
  pilotMarginS: number;
  /** the largest pilot: cpus it packs tokens into, GPUs and memory it may ask for (mem 0: not asked, any node's) */
  largestShape: Resources;
  /** the run time assumed for a token without expected_seconds while no token has finished */
  defaultTokenSeconds: number;
  /** how many cycles in a row a surplus must last before pending pilots are cancelled */
  surplusCycles: number;
}

export interface DecisionInput {
  todo: readonly WaitingToken[];
  running: readonly RunningToken[];
  /** run times (seconds) of finished tokens, a sample */
  finishedRunSeconds: readonly number[];
  pilots: readonly LivePilot[];
  settings: DecisionSettings;
  /** a cap a scheduler limit lowered max pilots to */
  capLoweredTo?: number;
  /** cycles in a row the surplus has lasted before this one */
  surplusStreak: number;
  nowS: number;
}

export interface Decision {
  todo: number;
  /** core-seconds of work that can run (todo that fits, plus what running tokens have left) */
  demandS: number;
  /** core-seconds the live pilots can still give */
  supplyS: number;
  unschedulable: number;
  /** why the first unschedulable token cannot run, e.g. `expected 3600 s > walltime 600 s` */
  unschedulableWhy?: string;
  running: number;
  pending: number;
  cap: number;
  submit: number;
  /** the shape to submit pilots with */
  shape: Resources;
  /** pending pilots to cancel (newest first) */
  cancel: string[];
  surplusStreak: number;
  /** why it submits or cancels nothing when it does nothing (for the cycle's line) */
  why?: string;
}

/** The 90th percentile (nearest rank) of a sample; undefined when empty. */
export function percentile90(sample: readonly number[]): number | undefined {
  const sorted = sample.filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.9 * sorted.length) - 1)];
}

/** Why no pilot of the largest shape and walltime could run this token, or undefined when one can. */
export function whyUnschedulable(token: WaitingToken, settings: DecisionSettings): string | undefined {
  const usable = usableSeconds(settings);
  const { largestShape: max } = settings;
  if (token.expectedS !== undefined && token.expectedS > usable) return `expected ${Math.round(token.expectedS)} s > ${Math.round(usable)} s a pilot can give (walltime ${settings.walltimeS} s)`;
  if (token.needs.cpus > max.cpus) return `needs ${token.needs.cpus} cpus > ${max.cpus} per pilot`;
  if (token.needs.gpus > max.gpus) return `needs ${token.needs.gpus} GPUs > ${max.gpus} per pilot`;
  if (max.mem > 0 && token.needs.mem > max.mem) return `needs ${token.needs.mem} bytes of memory > ${max.mem} per pilot`;
  return undefined;
}

function usableSeconds(settings: DecisionSettings): number {
  return Math.max(0, settings.walltimeS - settings.pilotMarginS);
}

export function decide(input: DecisionInput): Decision {
  const { settings, nowS } = input;
  const usable = usableSeconds(settings);
  const estimate = percentile90(input.finishedRunSeconds) ?? settings.defaultTokenSeconds;

  let unschedulable = 0;
  let unschedulableWhy: string | undefined;
  let demandS = 0;
  let lanes = 0;
  const shape: Resources = { cpus: settings.largestShape.cpus, gpus: 0, mem: 0 };
  for (const token of input.todo) {
    const why = whyUnschedulable(token, settings);
    if (why) {
      unschedulable++;
      unschedulableWhy ??= why;
      continue;
    }
    demandS += token.needs.cpus * (token.expectedS ?? estimate);
    lanes += token.needs.cpus;
    shape.gpus = Math.max(shape.gpus, token.needs.gpus);
    shape.mem = Math.max(shape.mem, token.needs.mem);
  }
  for (const token of input.running) {
    demandS += token.needs.cpus * Math.max(0, (token.expectedS ?? estimate) - token.elapsedS);
    lanes += token.needs.cpus;
  }

  const running = input.pilots.filter((p) => p.state === 'running');
  const pending = input.pilots.filter((p) => p.state === 'pending');
  const supplyS = input.pilots.reduce((sum, p) => sum + p.cpus * pilotSecondsLeft(p, usable, nowS), 0);
  const alive = input.pilots.length;
  const cap = Math.min(settings.maxPilots, input.capLoweredTo ?? Infinity);
  const perPilot = shape.cpus * usable;

  const base = { todo: input.todo.length, demandS, supplyS, unschedulable, unschedulableWhy, running: running.length, pending: pending.length, cap, shape };

  // the shortfall in pilots, no more than the waiting work could keep busy, and at least up to min pilots
  const shortfallS = demandS - supplyS;
  const busyAtMost = Math.ceil(lanes / Math.max(1, shape.cpus));
  let want = shortfallS > 0 && perPilot > 0 ? Math.min(Math.ceil(shortfallS / perPilot), Math.max(0, busyAtMost - alive)) : 0;
  want = Math.max(want, settings.minPilots - alive);

  if (want > 0) {
    const room = Math.min(cap - alive, settings.maxPending - pending.length, settings.maxSubmit);
    const submit = Math.max(0, Math.min(want, room));
    const why = submit > 0 ? undefined : cap - alive <= 0 ? `at the cap (${cap})` : settings.maxPending - pending.length <= 0 ? `${pending.length} pending already (max pending ${settings.maxPending})` : 'max submit 0';
    return { ...base, submit, cancel: [], surplusStreak: 0, why };
  }

  // a surplus: more than one whole pilot's worth beyond the demand, or pending pilots with nothing to do
  const surplusPilots = perPilot > 0 ? Math.floor((supplyS - demandS) / perPilot) : 0;
  const cancellable = Math.min(pending.length, Math.max(0, alive - settings.minPilots), demandS <= 0 ? pending.length : surplusPilots);
  if (cancellable <= 0) {
    const why = unschedulable > 0 && demandS <= 0 ? 'nothing that fits the pilots waits' : demandS <= 0 ? 'no work waits' : 'the pilots cover the work';
    return { ...base, submit: 0, cancel: [], surplusStreak: 0, why };
  }
  const streak = input.surplusStreak + 1;
  if (streak < settings.surplusCycles) {
    return { ...base, submit: 0, cancel: [], surplusStreak: streak, why: `surplus of ${cancellable} pending for ${streak} of ${settings.surplusCycles} cycles` };
  }
  const newestFirst = [...pending].sort((a, b) => b.submittedS - a.submittedS);
  return { ...base, submit: 0, cancel: newestFirst.slice(0, cancellable).map((p) => p.jobId), surplusStreak: 0 };
}

/** What a pilot can still give: a pending one its whole usable walltime, a running one what it has left. */
export function pilotSecondsLeft(pilot: Pick<LivePilot, 'state' | 'startedS'>, usableS: number, nowS: number): number {
  if (pilot.state === 'pending' || pilot.startedS === undefined) return usableS;
  return Math.max(0, usableS - (nowS - pilot.startedS));
}
