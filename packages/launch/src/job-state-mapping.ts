/**
 * Scheduler states onto the one `PilotJobState` (pilot-backend.ts). Slurm's states come from squeue
 * (`%T`: long names, `%t`: short codes) and scontrol (`JobState=...`); FirecREST reports the same Slurm
 * names (parsed by @picas/firecrest's job-state.ts, e.g. `CANCELLED by 0` → CANCELLED). One table
 * serves both, so a Slurm state means the same whichever way it was read. Local worker processes have
 * no scheduler: their state follows from how they exited.
 */
import { jobState, type JobState } from '@picas/firecrest/job-state';
import type { WorkerExit } from './local-launcher.js';
import type { PilotJobState } from './pilot-backend.js';

const BY_SLURM_NAME: Record<JobState, PilotJobState> = {
  PENDING: 'pending',
  CONFIGURING: 'pending',
  REQUEUED: 'pending',
  REQUEUE_FED: 'pending',
  REQUEUE_HOLD: 'pending',
  RESV_DEL_HOLD: 'pending',
  RUNNING: 'running',
  COMPLETING: 'running',
  SUSPENDED: 'running',
  STOPPED: 'running',
  SIGNALING: 'running',
  STAGE_OUT: 'running',
  RESIZING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  OUT_OF_MEMORY: 'failed',
  SPECIAL_EXIT: 'failed',
  CANCELLED: 'cancelled',
  REVOKED: 'cancelled',
  TIMEOUT: 'timeout',
  DEADLINE: 'timeout',
  PREEMPTED: 'preempted',
  NODE_FAIL: 'node_failure',
  BOOT_FAIL: 'node_failure',
  UNKNOWN: 'unknown',
};

/** squeue's short codes (`%t`) for the same states. */
const SLURM_SHORT_CODES: Readonly<Record<string, JobState>> = {
  PD: 'PENDING',
  CF: 'CONFIGURING',
  RQ: 'REQUEUED',
  RF: 'REQUEUE_FED',
  RH: 'REQUEUE_HOLD',
  RD: 'RESV_DEL_HOLD',
  R: 'RUNNING',
  CG: 'COMPLETING',
  S: 'SUSPENDED',
  ST: 'STOPPED',
  SI: 'SIGNALING',
  SO: 'STAGE_OUT',
  RS: 'RESIZING',
  CD: 'COMPLETED',
  F: 'FAILED',
  OOM: 'OUT_OF_MEMORY',
  SE: 'SPECIAL_EXIT',
  CA: 'CANCELLED',
  RV: 'REVOKED',
  TO: 'TIMEOUT',
  DL: 'DEADLINE',
  PR: 'PREEMPTED',
  NF: 'NODE_FAIL',
  BF: 'BOOT_FAIL',
};

/** A Slurm state as squeue or scontrol prints it (`RUNNING`, `R`, `CANCELLED by 1000`, `cancelled+`). */
export function slurmJobState(raw: string | undefined | null): PilotJobState {
  const text = (raw ?? '').trim().toUpperCase();
  return BY_SLURM_NAME[SLURM_SHORT_CODES[text] ?? jobState(text)];
}

/**
 * A FirecREST job's state (already parsed by the client), or `NOT_FOUND` as `picas firecrest status`
 * remembers a job FirecREST no longer knows (finished long ago, or never started): that is `unknown`.
 */
export function firecrestJobState(state: JobState | 'NOT_FOUND'): PilotJobState {
  return state === 'NOT_FOUND' ? 'unknown' : BY_SLURM_NAME[state];
}

/**
 * A local picas-worker process: running until it exits. Told to stop, it is cancelled when it ends as a
 * stopped worker does (exit 0 after a handled SIGTERM, 128+signal, or killed by a signal). Otherwise
 * exit 0 is completed, anything else failed.
 */
export function localWorkerState(exit: WorkerExit | undefined, stopRequested: boolean): PilotJobState {
  if (!exit) return 'running';
  if (exit.startError) return 'failed';
  const endedAsStopped = exit.exitCode === 0 || exit.signal !== undefined || exit.exitCode === 130 || exit.exitCode === 143;
  if (stopRequested && endedAsStopped) return 'cancelled';
  return exit.exitCode === 0 ? 'completed' : 'failed';
}
