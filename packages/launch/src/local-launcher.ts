/**
 * `picas launch local`: N picas-worker processes on this machine, their output streamed line by line
 * with a `[w<i>]` prefix, waited for, and stopped cleanly.
 *
 * Stopping: `stop()` (or aborting `signal`) sends SIGTERM to every worker, which puts its running tokens
 * back to todo and exits. Calling `stop()` again sends another SIGTERM, on which a worker exits at once.
 * Whatever is still alive `stopGraceMs` after the first stop gets SIGKILL. Workers run in their own process groups, so a Ctrl-C in the terminal
 * reaches only the launcher, which forwards exactly one SIGTERM per request.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { logLineText } from '@picas/core/log-line-text';
import type { PilotEnvironment } from './pilot-env.js';
import type { WorkerCommand } from './worker-command.js';

export interface LocalLaunchOptions {
  count: number;
  worker: WorkerCommand;
  pilot: PilotEnvironment;
  /** extra arguments for every worker */
  args?: readonly string[];
  cwd?: string;
  /** the environment the workers start from, before the pilot's settings (default process.env) */
  baseEnv?: Record<string, string | undefined>;
  /** after the stop SIGTERM, SIGKILL whatever is still running this much later (ms; default 60 s) */
  stopGraceMs?: number;
  /** abort = stop the workers (SIGTERM, then SIGKILL after the grace) */
  signal?: AbortSignal;
  /** a worker's stdout line, prefixed (default: process.stdout) */
  out?: (line: string) => void;
  /** a worker's stderr line, prefixed (default: process.stderr) */
  err?: (line: string) => void;
  /** `text`: render the workers' JSON log lines as short human lines; `json` (default): pass them on as they are */
  logFormat?: 'json' | 'text';
  /** the first worker's index (`[w<index>]`; default 1), so that a second launch numbers on */
  firstIndex?: number;
}

export interface WorkerExit {
  /** 1-based (from `firstIndex`) */
  index: number;
  pid?: number;
  exitCode?: number;
  signal?: string;
  ok: boolean;
  /** why it did not start, if it did not */
  startError?: string;
}

export interface LocalLaunch {
  pids: readonly (number | undefined)[];
  /** resolves when every worker has exited */
  done: Promise<{ workers: WorkerExit[]; failed: WorkerExit[]; stopped: boolean }>;
  /** the workers that have exited so far, by index */
  readonly exits: ReadonlyMap<number, WorkerExit>;
  /** the workers told to stop, by index */
  readonly stopping: ReadonlySet<number>;
  /**
   * Sends SIGTERM to the live workers (all, or those `indexes`), again on a second call: the first stops
   * them cleanly, a second makes them exit at once.
   */
  stop(indexes?: readonly number[]): void;
}

export function launchLocal(options: LocalLaunchOptions): LocalLaunch {
  const out = options.out ?? ((line: string) => process.stdout.write(line + '\n'));
  const err = options.err ?? ((line: string) => process.stderr.write(line + '\n'));
  const graceMs = options.stopGraceMs ?? 60_000;
  const env = { ...(options.baseEnv ?? process.env), PICAS_LAUNCHER: 'local', ...options.pilot.env };
  const children: Array<ResultPromise & { pid?: number }> = [];
  const alive = new Set<number>();
  let stopped = false;
  const stopping = new Set<number>();
  const exits = new Map<number, WorkerExit>();
  let killTimer: NodeJS.Timeout | undefined;
  const streamsClosed: Promise<void>[] = [];

  const first = options.firstIndex ?? 1;
  for (let i = first; i < first + options.count; i++) {
    const child = execa(options.worker.file, [...options.worker.args, ...(options.args ?? [])], {
      env,
      extendEnv: false,
      // tokens run where the pilot starts: where the user launched it, unless told otherwise
      cwd: options.cwd ?? process.cwd(),
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      // own process group: a terminal's Ctrl-C reaches only the launcher, which forwards one SIGTERM
      detached: true,
      cleanup: false,
    }) as ResultPromise & { pid?: number };
    children.push(child);
    if (child.pid !== undefined) alive.add(i);
    const prefix = `[w${i}]`;
    const render = options.logFormat === 'text' ? logLineText : (line: string) => line;
    streamsClosed.push(
      pipeLines(child.stdout, (line) => out(`${prefix} ${line}`)),
      pipeLines(child.stderr, (line) => {
        const shown = render(line);
        if (shown !== undefined) err(`${prefix} ${shown}`);
      }),
    );
  }

  const signalGroup = (index: number, sig: NodeJS.Signals) => {
    const pid = children[index - first]?.pid;
    if (pid === undefined || !alive.has(index)) return;
    try {
      // the worker is its group's leader: signal the group, so nothing it started is left behind on SIGKILL
      process.kill(sig === 'SIGKILL' ? -pid : pid, sig);
    } catch {
      // already gone
    }
  };

  const stop = (indexes?: readonly number[]) => {
    if (!indexes) stopped = true;
    const targets = [...alive].filter((index) => !indexes || indexes.includes(index));
    for (const index of targets) {
      stopping.add(index);
      signalGroup(index, 'SIGTERM');
    }
    if (!killTimer && targets.length > 0) {
      killTimer = setTimeout(() => {
        for (const index of alive) {
          if (!stopping.has(index)) continue;
          err(`[w${index}] still running ${Math.round(graceMs / 1000)} s after SIGTERM: sending SIGKILL`);
          signalGroup(index, 'SIGKILL');
        }
      }, graceMs);
      killTimer.unref();
    }
  };

  // if the launcher itself goes away, its workers must not outlive it unnoticed
  const onExit = () => {
    for (const index of alive) signalGroup(index, 'SIGTERM');
  };
  process.once('exit', onExit);
  const onAbort = () => stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop();

  const done = Promise.all(
    children.map(async (child, i): Promise<WorkerExit> => {
      const index = first + i;
      const result = await child;
      alive.delete(index);
      let exit: WorkerExit;
      if (result.exitCode === undefined && result.signal === undefined) {
        const why = (result as { code?: string }).code === 'ENOENT' ? `${options.worker.file} not found` : String(result.message);
        err(`[w${index}] did not start: ${why}`);
        exit = { index, ok: false, startError: why };
      } else {
        exit = { index, pid: child.pid, exitCode: result.exitCode, signal: result.signal, ok: result.exitCode === 0 };
      }
      exits.set(index, exit);
      return exit;
    }),
  ).then(async (workers) => {
    await Promise.all(streamsClosed);
    if (killTimer) clearTimeout(killTimer);
    process.removeListener('exit', onExit);
    options.signal?.removeEventListener('abort', onAbort);
    return { workers, failed: workers.filter((w) => !w.ok), stopped };
  });

  return { pids: children.map((c) => c.pid), done, exits, stopping, stop };
}

/** Calls `onLine` for each line of `stream`; resolves once the last line was delivered. */
function pipeLines(stream: Readable | null | undefined, onLine: (line: string) => void): Promise<void> {
  if (!stream) return Promise.resolve();
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', onLine);
  return new Promise((resolve) => lines.once('close', () => resolve()));
}

/** `worker 2 exited 3`, `worker 1 was killed by SIGKILL`, ... for the launcher's summary. */
export function describeWorkerExit(w: WorkerExit): string {
  if (w.startError) return `worker ${w.index} did not start (${w.startError})`;
  if (w.signal) return `worker ${w.index} was killed by ${w.signal}`;
  return `worker ${w.index} exited ${w.exitCode}`;
}
