/**
 * The shell runner: a token's input (or --command) as `bash -c "$command"` in its working directory, with
 * its share of the pilot in its env (and with --pin its cores), stdout and stderr to the run's files. This
 * is what `picas-worker` runs; token-runner.ts starts and stops the process group.
 */
import { commandFor, invocation, whyNotRun } from './token-command.js';
import { placement } from './token-placement.js';
import { runCommand, type RunOutcome } from './token-runner.js';
import type { TokenRun, TokenWork } from './token-work.js';

export interface ShellWorkOptions {
  /** --command: run for every token instead of its input */
  command?: string;
  /** --isolate: each token runs in its own scratch directory instead of `workdir` */
  isolate: boolean;
  /** where tokens run (unless isolate): --workdir, or the pilot's working directory */
  workdir: string;
  /** the pilot's environment, the base of each token's */
  env: Record<string, string | undefined>;
  /** --pin: bind each token to its cores with taskset */
  pin: boolean;
  tokenTimeout?: number;
  killGrace: number;
}

export class ShellWork implements TokenWork {
  constructor(private readonly options: ShellWorkOptions) {}

  async run({ doc, log, paths, grant, signal, onSpawn }: TokenRun): Promise<RunOutcome> {
    const o = this.options;
    const command = commandFor(doc, o.command);
    const notRun = whyNotRun(doc, command);
    if (command === undefined || notRun) {
      const now = Date.now() / 1000;
      return { exitCode: 127, started: now, finished: now, reason: notRun };
    }
    const cwd = o.isolate ? paths.dir : o.workdir;
    log.debug({ cwd, token_dir: paths.dir }, 'running');
    // its share of the pilot (cores, GPUs, memory) in its env, and with --pin its cores (token-placement.ts)
    const placed = placement(grant, o.pin);
    const run = invocation(command, doc, o.env, paths);
    return runCommand({
      ...run,
      launcher: placed.launcher,
      env: { ...run.env, ...placed.env },
      cwd,
      stdoutPath: paths.stdoutPath,
      stderrPath: paths.stderrPath,
      timeoutMs: o.tokenTimeout,
      killGraceMs: o.killGrace,
      signal,
      onSpawn,
    });
  }
}
