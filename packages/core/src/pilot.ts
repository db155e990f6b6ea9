/**
 * Pilot records: one document per pilot (`pilot:<worker id>`, `type: "pilot"`), written by the pilot at
 * start, renewed on its own timer with its lease (never per token), and at exit with its state, stop reason
 * and summary. PiCaS' views and ours only look at `type: "token"`, so these documents are invisible to them.
 *
 * Nothing here does I/O: the worker writes the records (worker/src/pilot-record.ts), `picas pilots` and the
 * dashboard read them (ops/list-pilots.ts).
 */

export const PILOT_TYPE = 'pilot';
export const PILOT_ID_PREFIX = 'pilot:';

/** What the pilot says of itself. `lost` is never written: a reader derives it from an old heartbeat. */
export type PilotWrittenState = 'running' | 'finished' | 'stopped' | 'failed';
/** running, finished (its pool was drained or a limit reached), stopped (by a signal), failed (a fatal error), or lost */
export type PilotState = PilotWrittenState | 'lost';
export const PILOT_STATES: readonly PilotState[] = ['running', 'lost', 'finished', 'stopped', 'failed'];

export interface PilotCounts {
  claimed: number;
  done: number;
  failed: number;
  requeued: number;
  lost: number;
}

export interface PilotResourcesRecord {
  cpus: number;
  gpus: number;
  /** bytes */
  mem: number;
}

export interface PilotDoc {
  _id: string;
  _rev?: string;
  type: typeof PILOT_TYPE;
  pilot_id: string;
  hostname: string;
  pid: number;
  /** PiCaS' job-id field for this environment (e.g. slurm_job_id = ARRAYJOB_TASK), when there is one */
  job_id?: { field: string; value: string };
  /** raw Slurm ids (also set for FirecREST pilots, which are Slurm jobs) */
  slurm_job_id_raw?: string;
  slurm_array_job_id?: string;
  slurm_array_task_id?: string;
  /** how it was started, when the launcher says so (PICAS_LAUNCHER: `local`, `slurm`, `firecrest <system>`) */
  launcher?: string;
  slots: number;
  lease_s: number;
  /** epoch seconds */
  started: number;
  /** epoch seconds of the last renewal (at start, every third of the lease, and at exit) */
  heartbeat: number;
  /** epoch seconds: a running pilot whose lease_until passed is lost (or earlier: pilotLostAt) */
  lease_until: number;
  state: PilotWrittenState;
  counts: PilotCounts;
  /** its tokens whose commands run now (as of the last renewal); absent in records of older pilots */
  running?: number;
  /** tokens it has claimed and not started yet (prefetched, waiting for a slot), as of the last renewal */
  claimed_ahead?: number;
  /** its running tokens per shape (core's shapeLabel), e.g. `{"4 cpu": 1, "1 cpu": 2}`, as of the last renewal */
  running_shapes?: Record<string, number>;
  /** what the pilot has (pilot-resources.ts): cores, GPUs (a count) and memory in bytes (0: not known) */
  resources?: PilotResourcesRecord;
  /** epoch seconds, at exit */
  ended?: number;
  stop_reason?: string;
  /** the pilot's summary at exit (the numbers of its summary log line) */
  summary?: Record<string, unknown>;
}

export function pilotDocId(workerId: string): string {
  return `${PILOT_ID_PREFIX}${workerId}`;
}

export function isPilotDoc(doc: unknown): doc is PilotDoc {
  return !!doc && typeof doc === 'object' && (doc as PilotDoc).type === PILOT_TYPE;
}

/** Slack on top of two missed renewals before a pilot counts as lost: a slow write, clocks that differ a little. */
export const PILOT_LOST_MARGIN_S = 10;

type PilotTimes = Pick<PilotDoc, 'lease_until' | 'heartbeat' | 'lease_s'>;

/**
 * Epoch seconds from which a running pilot that has not renewed its record is lost: it renews every third
 * of its lease, so once two renewals are missed (plus PILOT_LOST_MARGIN_S), or its lease has passed,
 * whichever comes first. The one rule for `picas pilots`, `picas reset --lost` and the dashboard.
 */
export function pilotLostAt(doc: PilotTimes): number {
  const heartbeat = Number(doc.heartbeat) || 0;
  const leaseS = Number(doc.lease_s) || 0;
  const until = Number(doc.lease_until) || heartbeat + leaseS;
  return Math.min(until, heartbeat + (2 * leaseS) / 3 + PILOT_LOST_MARGIN_S);
}

/** The state a reader shows: the written one, except that a running pilot that missed its renewals is lost (pilotLostAt). */
export function pilotState(doc: Pick<PilotDoc, 'state'> & PilotTimes, nowMs = Date.now()): PilotState {
  if (doc.state !== 'running') return doc.state;
  return pilotLostAt(doc) * 1000 < nowMs ? 'lost' : 'running';
}

/** The job ids of a pilot as one short text, e.g. `slurm 1234_5` or `firecrest daint, slurm 1234`; '' when none. */
export function pilotJobIds(doc: Pick<PilotDoc, 'job_id' | 'slurm_job_id_raw' | 'launcher'>): string {
  const parts: string[] = [];
  if (doc.launcher) parts.push(doc.launcher);
  if (doc.job_id) parts.push(`${doc.job_id.field.replace(/_job_id$/, '')} ${doc.job_id.value}`);
  if (doc.slurm_job_id_raw && doc.job_id?.value !== doc.slurm_job_id_raw) parts.push(`job ${doc.slurm_job_id_raw}`);
  return parts.join(', ');
}
