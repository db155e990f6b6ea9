/**
 * Cancelling pilots with `scancel`: by job ids, or all of the user's jobs with the pilot job name.
 * Slurm sends each pilot SIGTERM; the worker puts its running tokens back to todo before it exits.
 */
import { userInfo } from 'node:os';
import { execa } from 'execa';
import { ExternalError, redactText } from '@picas/core';
import { DEFAULT_JOB_NAME } from './pilot-script.js';

export async function cancelPilotJobs(query: { jobIds?: readonly string[]; jobName?: string; scancel?: string; signal?: AbortSignal } = {}): Promise<void> {
  const args =
    query.jobIds && query.jobIds.length > 0
      ? [...query.jobIds]
      : [`--name=${query.jobName ?? DEFAULT_JOB_NAME}`, `--user=${userInfo().username}`];
  const program = query.scancel ?? 'scancel';
  const result = await execa(program, args, { reject: false, stdin: 'ignore', timeout: 60_000, cancelSignal: query.signal });
  if ((result as { code?: string }).code === 'ENOENT') {
    throw new ExternalError(`${program} not found: run this where Slurm is installed`, { cause: result });
  }
  if (result.failed) {
    throw new ExternalError(`scancel failed: ${redactText(String(result.stderr || result.message).trim())}`, { cause: result });
  }
}
