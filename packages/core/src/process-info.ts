/**
 * What Linux's /proc says about a process: whether it still runs (a lock holder, a server from a state
 * file, a test's child), its process group, and the CPU time it and its children used.
 */
import { readFileSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
 * index 0 is the state (field 3 in proc(5)), 2 the process group, 11/12 utime/stime and 13/14
 * cutime/cstime in clock ticks. Undefined when there is no such process, or no /proc.
 */
export function procStat(pid: number | 'self'): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** True when the state is a zombie (or dead): the process has ended, only its exit status is left. */
export function procEnded(fields: readonly string[]): boolean {
  return fields[0] === 'Z' || fields[0] === 'X';
}

/** True while the process runs (a zombie, waiting for a busy PID 1 to reap it, has already ended). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const fields = procStat(pid);
  // no /proc (not Linux): kill(pid, 0) is all there is; on Linux it ended meanwhile
  if (!fields) return process.platform !== 'linux';
  return !procEnded(fields);
}

/**
 * CPU time (ms, user + system) of a process, or with `children` of its children that have ended and been
 * waited for. NaN without /proc. Clock ticks are taken as 1/100 s (USER_HZ on Linux).
 */
export function cpuTimeMs(pid: number | 'self', options: { children?: boolean } = {}): number {
  const fields = procStat(pid);
  if (!fields) return NaN;
  const [user, system] = options.children ? [fields[13], fields[14]] : [fields[11], fields[12]];
  return (Number(user) + Number(system)) * 10;
}
