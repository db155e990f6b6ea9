/**
 * The one interface every way of starting pilots offers (local processes, Slurm, FirecREST): submit N
 * pilots, list them with their states, cancel them. The CLI commands and an autoscaler drive a backend
 * through it; each backend maps its scheduler's own state words onto the one `PilotJobState`
 * (slurm-job-state.ts for Slurm and FirecREST, local-backend.ts for processes).
 */

/** What became of a pilot job, whatever ran it. */
export type PilotJobState = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timeout' | 'preempted' | 'node_failure' | 'unknown';

export const PILOT_JOB_STATES: readonly PilotJobState[] = ['pending', 'running', 'completed', 'failed', 'cancelled', 'timeout', 'preempted', 'node_failure', 'unknown'];

const FINAL_STATES: ReadonlySet<PilotJobState> = new Set<PilotJobState>(['completed', 'failed', 'cancelled', 'timeout', 'preempted', 'node_failure']);

/** A state after which the pilot will never run again. `unknown` is not final: ask again later. */
export function isFinalPilotJobState(state: PilotJobState): boolean {
  return FINAL_STATES.has(state);
}

/** One pilot job as its backend sees it now. */
export interface PilotJob {
  /** the backend's id: a Slurm (array task) job id, a FirecREST job id, a local worker's `w<index>` */
  jobId: string;
  name: string;
  state: PilotJobState;
  /** the scheduler's own word for the state, e.g. `RUNNING` or `CANCELLED by 0` */
  rawState: string;
  /** a local pilot's process id */
  pid?: number;
}

export interface SubmitRequest {
  /** how many pilots (a backend may take its count from its own settings, e.g. Slurm's --array) */
  count?: number;
  signal?: AbortSignal;
}

export interface SubmittedPilots {
  /** the ids of the jobs submitted (one array job id for a Slurm array) */
  jobIds: string[];
}

export interface ListRequest {
  /** also pilots that have finished (as far as the backend still knows them) */
  all?: boolean;
  signal?: AbortSignal;
}

export interface CancelRequest {
  /** the jobs to cancel; empty = every unfinished pilot of this backend */
  jobIds: readonly string[];
  signal?: AbortSignal;
}

export interface CancelledPilots {
  /** the ids cancelled (empty when the backend cancels by name, as `scancel --name` does) */
  jobIds: string[];
}

export interface PilotBackend {
  /** `local`, `slurm` or `firecrest`, for messages */
  readonly kind: string;
  submit(request: SubmitRequest): Promise<SubmittedPilots>;
  list(request?: ListRequest): Promise<PilotJob[]>;
  cancel(request: CancelRequest): Promise<CancelledPilots>;
}

/** How many pilots are in each state, e.g. `{ running: 3, pending: 1 }`, in the order of PILOT_JOB_STATES. */
export function countPilotStates(jobs: readonly Pick<PilotJob, 'state'>[]): Partial<Record<PilotJobState, number>> {
  const out: Partial<Record<PilotJobState, number>> = {};
  for (const state of PILOT_JOB_STATES) {
    const n = jobs.filter((j) => j.state === state).length;
    if (n > 0) out[state] = n;
  }
  return out;
}
