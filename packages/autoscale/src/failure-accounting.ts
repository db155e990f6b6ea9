/**
 * What failures do to the controller, as pure functions of its state document's `failures`:
 * - a failed submission backs off 1, 5, 15, then 30 min, and after 10 in a row the controller pauses;
 * - an error that will fail every time (a partition or account that does not exist, a bad option) pauses
 *   it at once: backing off would only repeat it;
 * - a scheduler limit ("job limit reached", QOSMaxSubmitJobPerUserLimit, ...) is no failure: it lowers
 *   the cap to the pilots alive;
 * - a pilot that ends within a minute of starting without running a token, failed or without leaving a
 *   pilot record, is a failed start; after 3 in a row the controller pauses. Timeouts, preemption and node
 *   failures are no failures, and neither is a pilot that found the pool empty (it ends `completed`).
 */
import type { AutoscalerDoc, AutoscalerPilot } from '@picas/core';

export const SUBMIT_BACKOFF_S: readonly number[] = [60, 300, 900, 1800];
export const PAUSE_AFTER_SUBMIT_FAILURES = 10;
export const PAUSE_AFTER_FAILED_STARTS = 3;
export const FAILED_START_WITHIN_S = 60;
export const RESUME_HINT = 'picas autoscale resume';

type Failures = AutoscalerDoc['failures'];
type Pause = NonNullable<AutoscalerDoc['paused']>;

export interface FailureOutcome {
  failures: Failures;
  capLoweredTo?: number;
  paused?: Pause;
}

const JOB_LIMIT = /job ?limit|MaxSubmitJob|MaxJobs|QOSMaxSubmit|AssocMaxSubmit|too many jobs|submit limit/i;
const PERMANENT = /invalid partition|invalid account|invalid qos|invalid (?:generic resource|gres)|unrecognized option|invalid option|requested node configuration is not available|invalid feature|invalid job array|no such file|permission denied|access denied|not authorized|forbidden/i;

/** A scheduler limit on how many jobs a user may have: it lowers the cap instead of counting as a failure. */
export function isJobLimit(message: string): boolean {
  return JOB_LIMIT.test(message);
}

/** An error that every retry would repeat (a bad partition, account or option). */
export function isPermanentSubmitError(message: string): boolean {
  return PERMANENT.test(message);
}

/** The state after a submission failed with `message` while `alive` pilots were pending or running. */
export function afterSubmitFailure(failures: Failures, message: string, alive: number, nowS: number): FailureOutcome {
  const line = oneLine(message);
  // at least 1: with no pilot of its own alive, the limit is other jobs', and one more try per cycle finds out when they end
  if (isJobLimit(line)) return { failures: { ...failures, last_error: line }, capLoweredTo: Math.max(alive, 1) };
  const inRow = failures.submit_in_row + 1;
  const next = { ...failures, submit_in_row: inRow, last_error: line, next_submit_at: nowS + SUBMIT_BACKOFF_S[Math.min(inRow, SUBMIT_BACKOFF_S.length) - 1]! };
  if (isPermanentSubmitError(line)) return { failures: next, paused: pause(`submission failed: ${line}`, nowS) };
  if (inRow >= PAUSE_AFTER_SUBMIT_FAILURES) return { failures: next, paused: pause(`${inRow} submissions failed in a row, the last: ${line}`, nowS) };
  return { failures: next };
}

export function afterSubmitSuccess(failures: Failures): Failures {
  const { next_submit_at: _backoff, ...rest } = failures;
  return { ...rest, submit_in_row: 0 };
}

/** Whether a pilot that ended was a failed start (see the module comment). */
export function isFailedStart(pilot: AutoscalerPilot, hadRecord: boolean): boolean {
  if (pilot.ended === undefined) return false;
  if (['timeout', 'preempted', 'node_failure', 'cancelled'].includes(pilot.state)) return false;
  if ((pilot.tokens_run ?? 0) > 0) return false;
  const from = pilot.started ?? pilot.submitted;
  if (pilot.ended - from > FAILED_START_WITHIN_S) return false;
  return pilot.state === 'failed' || !hadRecord;
}

/** The state after these pilots ended (in the order they ended). */
export function afterPilotsEnded(failures: Failures, ended: ReadonlyArray<{ pilot: AutoscalerPilot; hadRecord: boolean }>, nowS: number): FailureOutcome {
  let inRow = failures.failed_starts_in_row;
  let last = failures.last_error;
  for (const { pilot, hadRecord } of ended) {
    if (['timeout', 'preempted', 'node_failure', 'cancelled'].includes(pilot.state)) continue;
    if (isFailedStart(pilot, hadRecord)) {
      inRow++;
      last = `pilot ${pilot.job_id} ended (${pilot.state}) within ${FAILED_START_WITHIN_S} s without running a token`;
    } else {
      inRow = 0;
    }
  }
  const next = { ...failures, failed_starts_in_row: inRow, last_error: last };
  if (inRow >= PAUSE_AFTER_FAILED_STARTS && inRow > failures.failed_starts_in_row) {
    return { failures: next, paused: pause(`${inRow} pilots in a row ended within ${FAILED_START_WITHIN_S} s without running a token (last: ${last}); look at their output`, nowS) };
  }
  return { failures: next };
}

/** The failure counters as `picas autoscale resume` leaves them. */
export function clearedFailures(failures: Failures): Failures {
  return { submit_in_row: 0, failed_starts_in_row: 0, ...(failures.last_error ? { last_error: failures.last_error } : {}) };
}

function pause(reason: string, nowS: number): Pause {
  return { reason, at: nowS, resume: RESUME_HINT };
}

/** The first line of an error message, trimmed (sbatch's messages span lines). */
export function oneLine(message: string): string {
  return message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ').slice(0, 500);
}
