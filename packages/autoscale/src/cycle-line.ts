/**
 * The one line each cycle prints, saying what it saw and what it did, or why it did nothing, e.g.
 * `todo 840 (23.3 h of work) · unschedulable 2 · pilots 8 running, 2 pending of 10 · submit 2`.
 */
import type { Decision } from './decision.js';

export interface CycleOutcome {
  submitted: number;
  cancelled: number;
  /** a submission failed: the scheduler's message, in one line */
  submitError?: string;
  /** submissions wait until then (epoch seconds) after failures */
  backoffUntilS?: number;
  paused?: { reason: string; resume: string };
  dryRun?: boolean;
  capLoweredTo?: number;
}

/** `42 s`, `12.5 min`, `23.3 h` */
export function workAmount(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function cycleLine(d: Decision, o: CycleOutcome): string {
  const parts = [`todo ${d.todo} (${workAmount(d.demandS)} of work)`];
  if (d.unschedulable > 0) parts.push(`unschedulable ${d.unschedulable} (${d.unschedulableWhy})`);
  parts.push(`pilots ${d.running} running, ${d.pending} pending of ${d.cap}`);
  parts.push(action(d, o));
  return parts.join(' · ');
}

function action(d: Decision, o: CycleOutcome): string {
  if (o.paused) return `paused: ${o.paused.reason}; resume with: ${o.paused.resume}`;
  if (o.dryRun) return d.submit > 0 ? `dry run: would submit ${d.submit}` : d.cancel.length > 0 ? `dry run: would cancel ${d.cancel.length} pending` : `dry run: nothing to do (${d.why ?? 'no change'})`;
  const done: string[] = [];
  if (o.submitted > 0) done.push(`submit ${o.submitted}`);
  if (o.cancelled > 0) done.push(`cancel ${o.cancelled} pending (surplus)`);
  if (o.submitError) done.push(`submission failed: ${o.submitError}`);
  if (o.capLoweredTo !== undefined && o.submitError) done.push(`cap lowered to ${o.capLoweredTo}`);
  if (o.backoffUntilS !== undefined && o.submitted === 0 && d.submit > 0) done.push(`next submission after ${new Date(o.backoffUntilS * 1000).toISOString().slice(11, 19)} UTC`);
  if (done.length > 0) return done.join(', ');
  return `nothing to do: ${d.why ?? 'no change'}`;
}
