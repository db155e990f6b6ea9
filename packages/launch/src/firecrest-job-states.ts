/**
 * The states of remembered FirecREST pilots, as one `picas firecrest status` or one autoscaler cycle asks
 * for them: one job-list call per system (`GET /compute/{system}/jobs`), however many pilots; a job the list
 * leaves out (a list answer can miss a job, e.g. one just submitted or just finished) is looked up alone
 * (`GET /compute/{system}/jobs/{id}`) before it is declared gone (NOT_FOUND).
 */
import { isFirecrestNotFound, type FirecrestClient, type FirecrestJob, type SubmittedPilot } from '@picas/firecrest';

export interface RemoteJobState {
  /** FirecREST's (Slurm's) state name, or NOT_FOUND when FirecREST no longer knows the job */
  state: FirecrestJob['state'] | 'NOT_FOUND';
  rawState?: string;
  exitCode?: number;
}

/** The state of each record (same order); undefined when `signal` aborted the reads. */
export async function readJobStates(client: FirecrestClient, records: readonly SubmittedPilot[], signal?: AbortSignal): Promise<RemoteJobState[] | undefined> {
  const listed = new Map<string, FirecrestJob>();
  const systems = [...new Set(records.map((r) => r.system))];
  try {
    for (const system of systems) {
      for (const job of await client.jobs(system, {}, { signal })) listed.set(key(system, job.jobId), job);
    }
    const states: RemoteJobState[] = [];
    for (const record of records) {
      const job = listed.get(key(record.system, record.jobId)) ?? (await lookUpAlone(client, record, signal));
      states.push(job ? { state: job.state, rawState: job.rawState, exitCode: job.exitCode } : { state: 'NOT_FOUND' });
    }
    return states;
  } catch (err) {
    if (signal?.aborted) return undefined;
    throw err;
  }
}

async function lookUpAlone(client: FirecrestClient, record: SubmittedPilot, signal: AbortSignal | undefined): Promise<FirecrestJob | undefined> {
  try {
    return await client.job(record.system, record.jobId, { submittedAt: Date.parse(record.submittedAt), signal });
  } catch (err) {
    if (isFirecrestNotFound(err)) return undefined;
    throw err;
  }
}

function key(system: string, jobId: string): string {
  return `${system.toLowerCase()} ${jobId}`;
}
