/**
 * The pilots `picas firecrest submit` started, remembered in a local file (default
 * `.picas/firecrest-pilots.json`, mode 0600) so that `status` and `cancel` can find them again.
 * It holds job ids, systems and addresses only: never a secret, a token or a password.
 * Changes are read-modify-write under an exclusive lock file (`<file>.lock`, holding the owner's pid), so
 * two `picas firecrest` commands run at once in the same directory do not lose each other's pilots.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { processAlive, UsageError } from '@picas/core';

export interface SubmittedPilot {
  jobId: string;
  system: string;
  /** FIRECREST_URL the job was submitted to (no credentials) */
  firecrestUrl: string;
  name: string;
  workingDirectory: string;
  /** ISO time of the submit */
  submittedAt: string;
  /** CouchDB address and database the pilot works on (no credentials) */
  database?: string;
  /** the last state `status` saw, e.g. COMPLETED */
  lastState?: string;
  exitCode?: number;
}

interface PilotStateFile {
  version: 1;
  pilots: SubmittedPilot[];
}

export function defaultPilotStatePath(cwd: string = process.cwd()): string {
  return join(cwd, '.picas', 'firecrest-pilots.json');
}

export function readPilots(path: string): SubmittedPilot[] {
  if (!existsSync(path)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read the FirecREST pilot list ${path}: ${(err as Error).message} (fix or delete the file)`, { cause: err });
  }
  const pilots = (parsed as Partial<PilotStateFile>)?.pilots;
  if (!Array.isArray(pilots)) throw new UsageError(`the FirecREST pilot list ${path} has no "pilots" array (fix or delete the file)`);
  return pilots.filter((p): p is SubmittedPilot => !!p && typeof p === 'object' && typeof p.jobId === 'string' && typeof p.system === 'string');
}

/** Writes the whole list atomically, readable by the owner only. */
export function writePilots(path: string, pilots: readonly SubmittedPilot[]): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const file: PilotStateFile = { version: 1, pilots: pilots.map(onlyKnownFields) };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Changes the list: reads it, applies `change` and writes the result, all under the lock. */
export function updatePilots(path: string, change: (pilots: SubmittedPilot[]) => SubmittedPilot[], options: { waitMs?: number } = {}): void {
  withLock(path, options.waitMs ?? 10_000, () => writePilots(path, change(readPilots(path))));
}

/** Adds pilots (replacing any with the same system and job id). */
export function addPilots(path: string, added: readonly SubmittedPilot[]): void {
  const keyOf = (p: SubmittedPilot) => `${p.firecrestUrl} ${p.system} ${p.jobId}`;
  const keys = new Set(added.map(keyOf));
  updatePilots(path, (pilots) => [...pilots.filter((p) => !keys.has(keyOf(p))), ...added]);
}

function withLock(path: string, waitMs: number, fn: () => void): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const lock = `${path}.lock`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = lockHolder(lock);
    if (holder !== undefined && !processAlive(holder)) {
      rmSync(lock, { force: true }); // left by a process that died: take it over
      continue;
    }
    if (Date.now() >= deadline) {
      throw new UsageError(`the FirecREST pilot list ${path} is locked by process ${holder ?? 'unknown'} (${lock}); try again, or delete the lock file if that process is gone`);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  try {
    fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function lockHolder(lock: string): number | undefined {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

// the file's shape is fixed here, so nothing else (such as the job env) can slip into it
function onlyKnownFields(p: SubmittedPilot): SubmittedPilot {
  return {
    jobId: p.jobId,
    system: p.system,
    firecrestUrl: p.firecrestUrl,
    name: p.name,
    workingDirectory: p.workingDirectory,
    submittedAt: p.submittedAt,
    database: p.database,
    lastState: p.lastState,
    exitCode: p.exitCode,
  };
}
