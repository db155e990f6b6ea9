/**
 * Who a pilot is, as its batch system tells it through the environment: PiCaS' job-id field (what PiCaS
 * records on a claimed token), the raw Slurm ids, and the launcher that started it. Built here once: a claim
 * records `claimIdentity` on its tokens (token.ts lockedBy), the pilot's own record (pilot.ts) all of it.
 */

/** One of PiCaS' job-id fields (token.ts JOB_ID_FIELDS) and its value. */
export interface JobId {
  field: string;
  value: string;
}

/** Slurm's own ids, as set (an array task has all three). */
export interface SlurmIds {
  slurm_job_id_raw?: string;
  slurm_array_job_id?: string;
  slurm_array_task_id?: string;
}

export interface PilotIdentity {
  jobId?: JobId;
  slurm: SlurmIds;
  /** how the pilot was started, when the launcher says so (PICAS_LAUNCHER) */
  launcher?: string;
}

/** The job-id field PiCaS would record for this environment (DIRAC, WMS, CREAM, PBS, Slurm array, Slurm). */
export function jobIdFromEnv(env: Record<string, string | undefined>): JobId | undefined {
  if (env.DIRACJOBID) return { field: 'dirac_job_id', value: env.DIRACJOBID };
  if (env.GLITE_WMS_JOBID) return { field: 'wms_job_id', value: env.GLITE_WMS_JOBID };
  if (env.CREAM_JOBID) return { field: 'cream_job_id', value: env.CREAM_JOBID };
  if (env.PBS_JOBID) return { field: 'pbs_job_id', value: env.PBS_JOBID };
  if (env.SLURM_ARRAY_JOB_ID) return { field: 'slurm_job_id', value: `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID ?? ''}` };
  if (env.SLURM_JOB_ID) return { field: 'slurm_job_id', value: env.SLURM_JOB_ID };
  return undefined;
}

export function pilotIdentity(env: Record<string, string | undefined>): PilotIdentity {
  const slurm: SlurmIds = {};
  if (env.SLURM_JOB_ID) slurm.slurm_job_id_raw = env.SLURM_JOB_ID;
  if (env.SLURM_ARRAY_JOB_ID) slurm.slurm_array_job_id = env.SLURM_ARRAY_JOB_ID;
  if (env.SLURM_ARRAY_TASK_ID) slurm.slurm_array_task_id = env.SLURM_ARRAY_TASK_ID;
  return { jobId: jobIdFromEnv(env), slurm, ...(env.PICAS_LAUNCHER ? { launcher: env.PICAS_LAUNCHER } : {}) };
}

/** What a claim records on a token: PiCaS' job-id field, plus the raw Slurm ids inside a Slurm job. */
export function claimIdentity(identity: PilotIdentity): { jobId?: JobId; extra?: Record<string, unknown> } {
  if (!identity.slurm.slurm_job_id_raw) return { jobId: identity.jobId };
  return { jobId: identity.jobId, extra: { ...identity.slurm } };
}

/** `claimIdentity` of this environment. */
export function jobIdFields(env: Record<string, string | undefined>): { jobId?: JobId; extra?: Record<string, unknown> } {
  return claimIdentity(pilotIdentity(env));
}
