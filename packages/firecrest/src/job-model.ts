/**
 * FirecREST v2's job and file objects as typed values: what a job submit sends, and what the job, metadata
 * and `ls` answers hold. `toJob` reads the server's Job model (job ids as strings, states by prefix).
 */
import { jobState, type JobState } from './job-state.js';

export interface FirecrestSystem {
  name: string;
  scheduler?: { type?: string; version?: string };
  fileSystems?: Array<{ path: string; dataType?: string; defaultWorkDir?: boolean }>;
  [key: string]: unknown;
}

/** The job fields of `POST /compute/{system}/jobs`. Time and node counts go in the script's #SBATCH lines. */
export interface JobSubmission {
  /** the script text; give this or `scriptPath` */
  script?: string;
  /** an absolute path of a script on the cluster */
  scriptPath?: string;
  /** absolute; the job runs there (`sbatch --chdir`) */
  workingDirectory: string;
  /** exported to the job (`sbatch --export=ALL,K=V`) */
  env?: Record<string, string>;
  name?: string;
  account?: string;
  partition?: string;
  reservation?: string;
  standardInput?: string;
  standardOutput?: string;
  standardError?: string;
  constraints?: string;
}

export interface FirecrestJob {
  jobId: string;
  name?: string;
  /** the state name, recognised by prefix (`CANCELLED by 0` → CANCELLED) */
  state: JobState;
  /** the state as the server wrote it */
  rawState: string;
  stateReason?: string;
  exitCode?: number;
  interruptSignal?: number;
  time?: { elapsed?: number; start?: number; end?: number; suspended?: number; limit?: number };
  partition?: string;
  account?: string;
  user?: string;
  workingDirectory?: string;
  /** the job object as the server sent it */
  raw: Record<string, unknown>;
}

export interface JobMetadata {
  jobId: string;
  script?: string;
  standardInput?: string;
  standardOutput?: string;
  standardError?: string;
}

export interface FileEntry {
  name: string;
  type: 'd' | '-' | 'l' | string;
  linkTarget?: string | null;
  user?: string;
  group?: string;
  permissions?: string;
  lastModified?: string;
  size?: string | number;
}

function optionalNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  // Slurm's JSON sometimes wraps numbers: {set, infinite, number}
  if (value && typeof value === 'object' && 'number' in value) return optionalNumber((value as { number: unknown }).number);
  return undefined;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** The v2 Job model as a typed object (jobId as a string, state recognised by prefix). */
export function toJob(raw: Record<string, unknown>): FirecrestJob {
  const status = (raw.status ?? {}) as Record<string, unknown>;
  const time = (raw.time ?? {}) as Record<string, unknown>;
  const rawState = optionalString(status.state) ?? optionalString(raw.state) ?? '';
  return {
    jobId: String(raw.jobId ?? raw.jobid ?? ''),
    name: optionalString(raw.name),
    state: jobState(rawState),
    rawState,
    stateReason: optionalString(status.stateReason),
    exitCode: optionalNumber(status.exitCode),
    interruptSignal: optionalNumber(status.interruptSignal),
    time: {
      elapsed: optionalNumber(time.elapsed),
      start: optionalNumber(time.start),
      end: optionalNumber(time.end),
      suspended: optionalNumber(time.suspended),
      limit: optionalNumber(time.limit),
    },
    partition: optionalString(raw.partition),
    account: optionalString(raw.account),
    user: optionalString(raw.user),
    workingDirectory: optionalString(raw.workingDirectory),
    raw,
  };
}
