/**
 * Runs one token's command: `bash -c "$command"` (or `bash FILE`, see token-command.ts) in its working
 * directory and its own process group (detached), with stdout and stderr written straight to files (the
 * worker never holds the output in memory). Stopping (timeout, signal, lost lease) sends SIGTERM to the whole group, then SIGKILL after
 * the grace period. When the command exits, anything it left running in its group is stopped too, so a
 * token leaves no orphans behind.
 */
import { closeSync, openSync, readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { execa } from 'execa';
import { procEnded, procStat, sleep } from '@picas/core';

export interface RunSpec {
  /** bash's arguments: `-c COMMAND`, or a script file */
  bashArgs: readonly string[];
  /** a program bash runs under, which execs it (`taskset -c 0,1` for --pin); none by default */
  launcher?: readonly string[];
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
  /** the child's whole environment */
  env: Record<string, string | undefined>;
  /** SIGTERM the group after this long (ms) */
  timeoutMs?: number;
  /** SIGTERM → SIGKILL delay (ms) */
  killGraceMs: number;
  /** aborting stops the command; `signal.reason` is recorded as the stop reason */
  signal?: AbortSignal;
  /** called once the child is running, with its pid (= its process group id) */
  onSpawn?: (pid: number) => void;
}

export interface RunOutcome {
  /** the command's exit code; 128 + n when a signal ended it; 127 when it could not start */
  exitCode: number;
  /** the signal that ended the command, if any */
  signal?: string;
  /** epoch seconds (float) */
  started: number;
  finished: number;
  /** why we stopped it: `timeout`, or the abort reason; undefined when it ended on its own */
  stoppedBy?: 'timeout' | 'abort';
  abortReason?: unknown;
  /** a reason for the error list, when it did not simply exit */
  reason?: string;
  /** processes of the group were still running after the command exited, and were stopped */
  leftovers?: boolean;
  pid?: number;
  /** what the work returned (a function's result, as JSON), stored as the token's `output` */
  output?: unknown;
}

export function signalExitCode(signal: string | undefined): number {
  const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 0);
}

/**
 * True while any process of the group is alive. Zombies do not count: a container's PID 1 may be slow to
 * reap the orphans it inherits, and a zombie has already released everything.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return livingMembers(pgid) !== 0;
}

/** Non-zombie processes in the group, from /proc; -1 when /proc cannot tell (not Linux). */
function livingMembers(pgid: number): number {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return -1;
  }
  let living = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = procStat(Number(entry));
    if (!fields) continue; // exited meanwhile
    if (Number(fields[2]) === pgid && !procEnded(fields)) living++;
  }
  return living;
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM the group, SIGKILL it after the grace period, and wait (bounded) until it is gone. */
export async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  killGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  if (groupAlive(pgid)) {
    killGroup(pgid, 'SIGKILL');
    const hard = Date.now() + 2000;
    while (groupAlive(pgid) && Date.now() < hard) await sleep(20);
  }
}

export async function runCommand(spec: RunSpec): Promise<RunOutcome> {
  const started = Date.now() / 1000;
  const out = openSync(spec.stdoutPath, 'w');
  const err = openSync(spec.stderrPath, 'w');
  const spawn = () =>
    execa(spec.launcher?.[0] ?? 'bash', [...(spec.launcher ? [...spec.launcher.slice(1), 'bash'] : []), ...spec.bashArgs], {
      cwd: spec.cwd,
      env: spec.env,
      extendEnv: false,
      detached: true,
      stdin: 'ignore',
      // a file descriptor goes to the child as is (execa's types only list 3-9)
      stdout: out as 3,
      stderr: err as 3,
      reject: false,
      cleanup: false,
    });
  let subprocess: ReturnType<typeof spawn>;
  try {
    subprocess = spawn();
  } finally {
    // the child has its own copies of the descriptors
    closeSync(out);
    closeSync(err);
  }
  const pid = subprocess.pid;
  if (pid !== undefined) spec.onSpawn?.(pid);

  let stoppedBy: RunOutcome['stoppedBy'];
  let abortReason: unknown;
  let stopping: Promise<void> | undefined;
  const stop = (by: 'timeout' | 'abort') => {
    if (stoppedBy || pid === undefined) return;
    stoppedBy = by;
    stopping = stopGroup(pid, spec.killGraceMs);
  };
  const timer = spec.timeoutMs !== undefined ? setTimeout(() => stop('timeout'), spec.timeoutMs) : undefined;
  const onAbort = () => {
    abortReason = spec.signal?.reason;
    stop('abort');
  };
  if (spec.signal?.aborted) onAbort();
  else spec.signal?.addEventListener('abort', onAbort, { once: true });

  const result = await subprocess;
  if (timer) clearTimeout(timer);
  spec.signal?.removeEventListener('abort', onAbort);
  const finished = Date.now() / 1000;
  await stopping;

  // the command is done: stop whatever it left running in its group (background jobs)
  let leftovers = false;
  if (pid !== undefined && groupAlive(pid)) {
    leftovers = true;
    await stopGroup(pid, Math.min(spec.killGraceMs, 5000));
  }

  const signal = result.signal ?? undefined;
  if (pid === undefined || (result.exitCode === undefined && !signal)) {
    const reason = `could not start the command: ${result.originalMessage || result.shortMessage}`;
    return { exitCode: 127, started, finished, reason, pid };
  }
  const exitCode = signal ? signalExitCode(signal) : result.exitCode!;
  let reason: string | undefined;
  if (stoppedBy === 'timeout') reason = `timed out after ${formatSeconds(spec.timeoutMs!)} (--token-timeout); process group killed`;
  else if (signal) reason = `killed by ${signal}`;
  return { exitCode, signal, started, finished, stoppedBy, abortReason, reason, leftovers, pid };
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}
