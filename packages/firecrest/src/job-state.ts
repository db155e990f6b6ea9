/**
 * Slurm job states as FirecREST reports them. The text may go on after the state's name
 * (`CANCELLED by 0`), so a state is recognised by its prefix.
 */
export const JOB_STATES = [
  'PENDING', 'RUNNING', 'SUSPENDED', 'COMPLETING', 'COMPLETED', 'CONFIGURING', 'RESIZING', 'REQUEUED',
  'REQUEUE_FED', 'REQUEUE_HOLD', 'SPECIAL_EXIT', 'STOPPED', 'SIGNALING', 'STAGE_OUT', 'RESV_DEL_HOLD',
  'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE',
  'REVOKED',
] as const;

export type JobState = (typeof JOB_STATES)[number] | 'UNKNOWN';

/** States after which the job will never run again. */
export const FINAL_JOB_STATES: ReadonlySet<JobState> = new Set<JobState>([
  'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL',
  'DEADLINE', 'REVOKED', 'SPECIAL_EXIT',
]);

// longest names first, so that REQUEUE_HOLD is not read as REQUEUED's sibling and so on
const BY_LENGTH = [...JOB_STATES].sort((a, b) => b.length - a.length);

/** `CANCELLED by 0` → CANCELLED; `cancelled+` → CANCELLED; anything unrecognised → UNKNOWN. */
export function jobState(raw: string | undefined | null): JobState {
  if (!raw) return 'UNKNOWN';
  const text = raw.trim().toUpperCase();
  for (const name of BY_LENGTH) {
    if (text.startsWith(name) && !/[A-Z0-9_]/.test(text.charAt(name.length))) return name;
  }
  return 'UNKNOWN';
}

export function isFinalJobState(state: JobState): boolean {
  return FINAL_JOB_STATES.has(state);
}
