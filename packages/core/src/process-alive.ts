/**
 * Whether a process (a lock holder, a server from a state file, a test's child) still runs.
 */
import { readFileSync } from 'node:fs';

/** True while the process runs (a zombie, waiting for a busy PID 1 to reap it, has already ended). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    // no /proc (not Linux), or it ended meanwhile: kill(pid, 0) said it existed
    return process.platform !== 'linux';
  }
}
