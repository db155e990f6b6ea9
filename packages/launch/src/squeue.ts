/**
 * The pilots' states from `squeue`, for `picas slurm status` and the Slurm backend (shown next to the token counts).
 * Pilots are found by job name (default `picas-pilot`) and/or job ids, for the current user.
 */
import { userInfo } from 'node:os';
import { execa } from 'execa';
import { ExternalError, redactText } from '@picas/core';
import { DEFAULT_JOB_NAME } from './pilot-script.js';

export interface SqueueRow {
  /** `123_4` for an array task, `123_[5-8]` for pending tasks, `123` for a plain job */
  jobId: string;
  arrayJobId: string;
  name: string;
  state: string;
  /** time used, as squeue prints it */
  elapsed: string;
  timeLimit: string;
  /** node list when running, else the reason it is pending */
  where: string;
}

export interface SqueueQuery {
  jobName?: string;
  jobIds?: readonly string[];
  /** include finished jobs (kept by Slurm for MinJobAge) */
  all?: boolean;
  /** default: the current user; `''` for everyone */
  user?: string;
  squeue?: string;
  signal?: AbortSignal;
}

const FIELDS = ['%i', '%F', '%j', '%T', '%M', '%l', '%R'];

export async function listSqueueRows(query: SqueueQuery = {}): Promise<SqueueRow[]> {
  const args = ['--noheader', `--format=${FIELDS.join('|')}`];
  if (query.jobIds && query.jobIds.length > 0) {
    args.push(`--jobs=${query.jobIds.join(',')}`);
  } else {
    args.push(`--name=${query.jobName ?? DEFAULT_JOB_NAME}`);
  }
  const user = query.user ?? userInfo().username;
  if (user) args.push(`--user=${user}`);
  // without --states, squeue shows the jobs that are not finished yet
  if (query.all) args.push('--states=all');
  const program = query.squeue ?? 'squeue';
  const result = await execa(program, args, { reject: false, stdin: 'ignore', timeout: 60_000, cancelSignal: query.signal });
  if ((result as { code?: string }).code === 'ENOENT') {
    throw new ExternalError(`${program} not found: run this where Slurm is installed; for a single-node test cluster run: sudo bash scripts/setup-slurm.sh`, { cause: result });
  }
  if (result.failed) {
    const detail = redactText(String(result.stderr || result.message).trim());
    // squeue refuses ids it no longer knows; that only means they are long gone
    if (query.jobIds && /Invalid job id/i.test(detail)) return [];
    throw new ExternalError(`squeue failed: ${detail}`, { cause: result });
  }
  return parseSqueue(String(result.stdout));
}

export function parseSqueue(text: string): SqueueRow[] {
  const jobs: SqueueRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [jobId, arrayJobId, name, state, elapsed, timeLimit, ...where] = line.split('|');
    jobs.push({
      jobId: jobId!.trim(),
      arrayJobId: (arrayJobId ?? '').trim(),
      name: (name ?? '').trim(),
      state: (state ?? '').trim(),
      elapsed: (elapsed ?? '').trim(),
      timeLimit: (timeLimit ?? '').trim(),
      where: where.join('|').trim(),
    });
  }
  return jobs;
}

/** How many pilots are in each state, e.g. `{ RUNNING: 3, PENDING: 1 }`. */
export function countByState(jobs: readonly SqueueRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const job of jobs) out[job.state] = (out[job.state] ?? 0) + 1;
  return out;
}

/** A fixed-width table of the jobs, for humans. */
export function formatPilotTable(jobs: readonly SqueueRow[]): string[] {
  const header = ['JOBID', 'NAME', 'STATE', 'TIME', 'LIMIT', 'NODES/REASON'];
  const rows = jobs.map((j) => [j.jobId, j.name, j.state, j.elapsed, j.timeLimit, j.where]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)];
}
