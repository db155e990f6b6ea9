/**
 * The pilots the controller submitted, brought up to date each cycle from what its backend lists and
 * from the pilots' own records (`pilot:<worker id>`: when they started, how many tokens they ran).
 * Jobs named after the pool that the state does not know (submitted by a controller that died before it
 * could write them down) are adopted, so a restart never submits them twice. A job its backend stops
 * listing (or lists as `unknown`) is declared gone only after two cycles in a row (a job can be missing
 * from one answer), and not while its pilot record still shows it running.
 */
import type { AutoscalerPilot, AutoscalerPilotState } from '@picas/core';
import type { PilotRow } from '@picas/core/ops/list-pilots';
import { isFinalPilotJobState, type PilotJob } from '@picas/launch/pilot-backend';
import type { LivePilot } from './decision.js';

/** Ended pilots kept in the state document (the newest), besides the live ones. */
export const KEEP_ENDED = 50;
const MISSING_CYCLES_BEFORE_GONE = 2;
/** how long after its end a pilot's record may still say `running` (its exit write is on the way) */
const RECORD_GRACE_S = 30;

export interface EndedPilot {
  pilot: AutoscalerPilot;
  /** whether the pilot wrote a record (it reached the database) */
  hadRecord: boolean;
}

export interface Reconciled {
  pilots: AutoscalerPilot[];
  /** pilots that ended since the last cycle */
  ended: EndedPilot[];
}

/** The pilot record of a pilot: by its Slurm job id, or (local pilots) by its process id on this host. */
export function recordOf(pilot: Pick<AutoscalerPilot, 'job_id' | 'pid' | 'submitted'>, records: readonly PilotRow[]): PilotRow | undefined {
  return records.find((r) => (pilot.pid !== undefined ? r.pid === pilot.pid && r.started >= pilot.submitted - 5 : r.slurm_job_id_raw === pilot.job_id));
}

export function reconcilePilots(known: readonly AutoscalerPilot[], listed: readonly PilotJob[], records: readonly PilotRow[], backend: string, nowS: number): Reconciled {
  const byId = new Map(listed.map((j) => [j.jobId, j]));
  const ended: EndedPilot[] = [];
  const pilots = known.map((given): AutoscalerPilot => {
    // a local pilot's process id is known once its backend lists it
    const pid = byId.get(given.job_id)?.pid;
    const pilot = pid !== undefined && given.pid === undefined ? { ...given, pid } : given;
    const record = recordOf(pilot, records);
    let next: AutoscalerPilot = { ...pilot, ...fromRecord(record) };
    if (next.ended === undefined) {
      const job = byId.get(pilot.job_id);
      // a job its backend does not list, or no longer knows (`unknown`), is gone after two cycles, unless its record still lives
      if (!job || job.state === 'unknown') {
        const missing = (pilot.missing_cycles ?? 0) + 1;
        if (missing < MISSING_CYCLES_BEFORE_GONE || record?.shown === 'running') return { ...next, missing_cycles: missing };
        // gone from the scheduler: its record says how it ended, if it wrote one
        next = withoutMissing({ ...next, state: record && record.state !== 'running' ? endStateOfRecord(record.state) : 'unknown', ended: record?.ended ?? nowS, end_reason: record?.stop_reason ?? 'gone from the scheduler' });
      } else {
        next = withoutMissing({ ...next, state: job.state as AutoscalerPilotState });
        if (job.state === 'running' && next.started === undefined) next.started = nowS;
        if (isFinalPilotJobState(job.state)) next = { ...next, ended: record?.ended ?? nowS, end_reason: next.end_reason ?? record?.stop_reason ?? job.state };
      }
    }
    // counted once its record has its final numbers (a pilot writes them as it exits), or after a grace
    if (next.ended !== undefined && !next.counted && (!record || record.state !== 'running' || nowS - next.ended > RECORD_GRACE_S)) {
      next = { ...next, counted: true };
      ended.push({ pilot: next, hadRecord: !!record });
    }
    return next;
  });
  const knownIds = new Set(pilots.map((p) => p.job_id));
  for (const job of listed) {
    if (knownIds.has(job.jobId) || isFinalPilotJobState(job.state)) continue;
    pilots.push({ backend, job_id: job.jobId, state: job.state as AutoscalerPilotState, submitted: nowS, ...(job.state === 'running' ? { started: nowS } : {}), ...(job.pid ? { pid: job.pid } : {}) });
  }
  const live = pilots.filter((p) => p.ended === undefined);
  const done = pilots.filter((p) => p.ended !== undefined).sort((a, b) => (b.ended ?? 0) - (a.ended ?? 0)).slice(0, KEEP_ENDED);
  return { pilots: [...live, ...done.reverse()].map(dropUndefined), ended };
}

/** The pilots the decision counts: pending or running (an `unknown` one counts as pending: never lose one). */
export function livePilots(pilots: readonly AutoscalerPilot[], cpusOf: (p: AutoscalerPilot) => number): LivePilot[] {
  return pilots
    .filter((p) => p.ended === undefined)
    .map((p) => ({ jobId: p.job_id, state: p.state === 'running' ? 'running' : 'pending', cpus: cpusOf(p), startedS: p.started, submittedS: p.submitted }));
}

function fromRecord(record: PilotRow | undefined): Partial<AutoscalerPilot> {
  if (!record) return {};
  return { started: record.started, tokens_run: (record.counts?.done ?? 0) + (record.counts?.failed ?? 0) };
}

function endStateOfRecord(state: string): AutoscalerPilotState {
  return state === 'failed' ? 'failed' : state === 'stopped' ? 'cancelled' : 'completed';
}

function withoutMissing(p: AutoscalerPilot): AutoscalerPilot {
  const { missing_cycles: _gone, ...rest } = p;
  return rest;
}

function dropUndefined(p: AutoscalerPilot): AutoscalerPilot {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as unknown as AutoscalerPilot;
}
