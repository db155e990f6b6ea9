/**
 * What running one held token means: the seam between the pilot's machinery (claims, leases, capacity,
 * result writing: scheduler.ts, result-writer.ts) and the work itself. The shell runner (shell-work.ts,
 * `bash -c "$input"`) is one implementation; a JavaScript function (function-work.ts, the typed library's
 * `runPilot`) is another. Whatever runs, its stdout and stderr go to the run's files (the token's log
 * attachments), and the outcome says how it ended; the scheduler records it the same way for both.
 */
import type { Logger, TokenDoc } from '@picas/core';
import type { Grant } from './resource-pool.js';
import type { RunPaths } from './run-files.js';
import type { RunOutcome } from './token-runner.js';

export interface TokenRun {
  /** the token as claimed */
  doc: TokenDoc;
  /** the pilot's log, bound to this token */
  log: Logger;
  /** its scratch directory and log files */
  paths: RunPaths;
  /** the cores, GPUs and memory it was given */
  grant: Grant;
  /** aborted when the pilot stops or the token's lease is lost; `reason` says which */
  signal: AbortSignal;
  /** the work started a process group (the shell runner): the pilot kills it on a second signal */
  onSpawn: (pid: number) => void;
}

export interface TokenWork {
  /** Runs one token to its end (or its stop); never throws for the token's own failure. */
  run(run: TokenRun): Promise<RunOutcome>;
}
