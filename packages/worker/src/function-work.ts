/**
 * A JavaScript function as a token's work (the typed library's `runPilot`): called with the token and a
 * context (an AbortSignal, a log that becomes the token's stdout attachment, its resources). What it returns
 * is stored as the token's `output` (exit code 0); what it throws marks the token error with the message
 * (exit code 1, the stack in the stderr attachment). On the pilot's stop or a lost lease its signal is
 * aborted: the outcome is then a stop (requeued, or not written when the lease was lost), and a function that
 * ignores its signal is waited for at most --kill-grace before the pilot gives up on it. --token-timeout
 * aborts it the same way and marks the token error.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { formatWithOptions } from 'node:util';
import type { TokenDoc } from '@picas/core';
import type { Grant } from './resource-pool.js';
import { whyNotRunAgain } from './token-command.js';
import type { RunOutcome } from './token-runner.js';
import type { TokenRun, TokenWork } from './token-work.js';

/** Exit code recorded for a function that threw (or whose result is not JSON). */
export const FUNCTION_FAILED_EXIT = 1;
/** Exit code recorded for a function stopped by --token-timeout (as timeout(1) has it). */
export const FUNCTION_TIMEOUT_EXIT = 124;

export interface FunctionWorkContext {
  /** the token as claimed */
  token: TokenDoc;
  /** aborted on the pilot's stop, a lost lease or --token-timeout: stop soon, what is returned then is not kept */
  signal: AbortSignal;
  /** writes one line (formatted like console.log) to the token's log: its `logs_<id>.out` attachment */
  log: (...values: unknown[]) => void;
  /** what the token was given of the pilot: its cores (numbers), GPU ids and memory (bytes) */
  grant: Grant;
  /** the token's own scratch directory (removed after it, unless keepTokenDirs) */
  tokenDir: string;
}

export type TokenFunction = (token: TokenDoc, ctx: FunctionWorkContext) => unknown;

export interface FunctionWorkOptions {
  /** --token-timeout (ms) */
  tokenTimeout?: number;
  /** how long a stopped function is waited for (ms) */
  killGrace: number;
}

type Ending = { kind: 'returned'; value: unknown } | { kind: 'threw'; error: unknown } | { kind: 'gave-up' };

export class FunctionWork implements TokenWork {
  constructor(
    private readonly fn: TokenFunction,
    private readonly options: FunctionWorkOptions,
  ) {}

  async run({ doc, paths, grant, signal }: TokenRun): Promise<RunOutcome> {
    const started = Date.now() / 1000;
    const notRun = whyNotRunAgain(doc);
    if (notRun) return { exitCode: 127, started, finished: started, reason: notRun };
    // stopped before it started (the pilot's stop came first): not called at all, the token goes back
    if (signal.aborted) return { exitCode: FUNCTION_FAILED_EXIT, started, finished: started, stoppedBy: 'abort', abortReason: signal.reason };
    const { tokenTimeout, killGrace } = this.options;
    const controller = new AbortController();
    let stoppedBy: RunOutcome['stoppedBy'];
    const onAbort = () => {
      stoppedBy ??= 'abort';
      controller.abort(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const timer =
      tokenTimeout !== undefined
        ? setTimeout(() => {
            stoppedBy ??= 'timeout';
            controller.abort(new Error(`timed out after ${Math.round(tokenTimeout / 100) / 10}s (--token-timeout)`));
          }, tokenTimeout)
        : undefined;
    const out = openSync(paths.stdoutPath, 'w');
    const err = openSync(paths.stderrPath, 'w');
    let closed = false;
    let ending: Ending;
    const giveUp = givenUpAfterStop(controller.signal, killGrace);
    try {
      // a line logged after the run ended (by a function given up on) is dropped: its descriptor may belong to another file by then
      const log = (...values: unknown[]) => {
        if (!closed) writeSync(out, `${formatWithOptions({ colors: false }, ...values)}\n`);
      };
      const called = (async () => this.fn(doc, { token: doc, signal: controller.signal, log, grant, tokenDir: paths.dir }))().then(
        (value): Ending => ({ kind: 'returned', value }),
        (error: unknown): Ending => ({ kind: 'threw', error }),
      );
      ending = await Promise.race([called, giveUp.ended]);
      if (ending.kind === 'threw') writeSync(err, `${describeThrown(ending.error, true)}\n`);
    } finally {
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      giveUp.cancel();
      closed = true;
      closeSync(out);
      closeSync(err);
    }
    const finished = Date.now() / 1000;
    const base = { started, finished, stoppedBy, ...(stoppedBy === 'abort' ? { abortReason: signal.reason } : {}) };
    if (stoppedBy === 'timeout') return { ...base, exitCode: FUNCTION_TIMEOUT_EXIT, reason: describeThrown(controller.signal.reason, false) };
    if (ending.kind === 'gave-up') return { ...base, exitCode: FUNCTION_FAILED_EXIT, reason: `the function did not return within ${killGrace / 1000}s of its stop` };
    if (ending.kind === 'threw') return { ...base, exitCode: FUNCTION_FAILED_EXIT, reason: describeThrown(ending.error, false) };
    const output = asJson(ending.value);
    if (output.problem) return { ...base, exitCode: FUNCTION_FAILED_EXIT, reason: output.problem };
    return { ...base, exitCode: 0, ...(output.value !== undefined ? { output: output.value } : {}) };
  }
}

/** `ended` resolves `graceMs` after the signal is aborted (never before): the longest a stopped function is waited for. */
function givenUpAfterStop(signal: AbortSignal, graceMs: number): { ended: Promise<Ending>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let resolveEnded!: (ending: Ending) => void;
  const ended = new Promise<Ending>((resolve) => (resolveEnded = resolve));
  const start = () => (timer = setTimeout(() => resolveEnded({ kind: 'gave-up' }), graceMs));
  if (signal.aborted) start();
  else signal.addEventListener('abort', start, { once: true });
  return {
    ended,
    cancel: () => {
      signal.removeEventListener('abort', start);
      if (timer) clearTimeout(timer);
    },
  };
}

function describeThrown(thrown: unknown, withStack: boolean): string {
  if (thrown instanceof Error) return (withStack ? thrown.stack : undefined) ?? (thrown.message || thrown.name);
  return String(thrown);
}

/** The returned value as JSON (what CouchDB stores), or why it cannot be. */
function asJson(value: unknown): { value?: unknown; problem?: string } {
  if (value === undefined) return {};
  try {
    const text = JSON.stringify(value);
    return text === undefined ? { problem: `the function returned ${typeof value}, which is not JSON` } : { value: JSON.parse(text) as unknown };
  } catch (err) {
    return { problem: `the function's result is not JSON: ${(err as Error).message}` };
  }
}
