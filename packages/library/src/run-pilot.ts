/**
 * `runPilot()`: a pilot in this process whose work is a JavaScript function. It is `picas-worker`'s own
 * machinery (claims, leases renewed while the function runs, capacity, result writing, requeue on stop,
 * exactly once) with the function in place of `bash -c "$input"` (worker/function-work.ts).
 */
import { createLogger, openCouch, UsageError, type ConnectionConfig, type TokenDoc } from '@picas/core';
import { FunctionWork, newWorkerId, resolveWorkerOptions, shortHostname, Worker, type FunctionWorkContext } from '@picas/worker';
import { resolvePoolConnection, type ConnectOptions } from './connect.js';
import { pilotSummary, type PilotSummary } from './pilot-summary.js';
import { poolConnection, type Pool } from './pool.js';
import type { Token } from './token.js';

/** A duration: seconds as a number, or text like `90s`, `5m`, `2h` (as the CLI takes them). */
export type Duration = number | string;

/** What a token got of its pilot. */
export interface TokenResources {
  /** its cores: how many, and which (0-based, of the pilot's) */
  cpus: number;
  cores: readonly number[];
  /** its GPU ids (also what CUDA_VISIBLE_DEVICES would be) */
  gpus: readonly string[];
  /** its memory, bytes (accounted, not enforced) */
  mem: number;
}

/** What a work function is given besides its token. */
export interface WorkContext {
  /** the token as claimed */
  token: Token;
  /**
   * Aborted when the pilot stops (`signal` of runPilot, `maxTime`), when the token's lease was lost, or at
   * `tokenTimeout`: stop soon. A stopped token goes back to todo (or error, `onSignal: 'fail'`); what the
   * function returns after its stop is not kept.
   */
  signal: AbortSignal;
  /** one line (formatted like console.log) in the token's log: its `logs_<id>.out` attachment */
  log: (...values: unknown[]) => void;
  resources: TokenResources;
  /** the token's own scratch directory, removed after it */
  tokenDir: string;
  /** the pilot's id (recorded on the tokens it claims) */
  workerId: string;
}

/**
 * The work: resolves with the token's result (any JSON, stored as its `output`; undefined leaves it as it
 * is) and the token is done; throws and the token is marked error with the message.
 */
export type WorkFunction = (token: Token, ctx: WorkContext) => unknown;

export interface RunPilotOptions {
  /** the pool to work on (from connect()); or `connection` to resolve one for this pilot */
  pool?: Pool;
  connection?: ConnectOptions;
  work: WorkFunction;
  /** tokens of one core run at once (default 1) */
  slots?: number;
  /** cores the pilot packs tokens into: a number, or `auto` (this machine's); default `slots` (inside Slurm, the allocation's) */
  cpus?: number | 'auto';
  /** GPUs handed out to tokens: a count or a list of ids (`0,1`) */
  gpus?: number | string;
  /** memory handed out to tokens: bytes, or a size like `64G` */
  mem?: number | string;
  /** lease length, renewed every third of it while a token runs (default 5m) */
  lease?: Duration;
  /** abort a token's work after this long: it ends in error */
  tokenTimeout?: Duration;
  /** how long a stopped work function is waited for (default 10s) */
  killGrace?: Duration;
  /** stop after claiming this many tokens */
  maxTokens?: number;
  /** stop (and put running tokens back) after this long */
  maxTime?: Duration;
  /** keep waiting for new tokens instead of stopping when the pool is empty */
  endless?: boolean;
  /** a failed token whose scrub_count is below this goes back to todo (default 0) */
  maxScrub?: number;
  /** on a stop: put running tokens back to todo (default), or mark them error */
  onSignal?: 'requeue' | 'fail';
  /** tokens claimed per request: `auto` (default) or a number */
  prefetch?: 'auto' | number;
  /** the id recorded on claimed tokens (default host-pid-random) */
  workerId?: string;
  /** keep a record of the pilot for `picas pilots` and the dashboard (default true) */
  pilotRecord?: boolean;
  /** how long to keep retrying an unreachable CouchDB (default 5m; 30s before it was ever reached) */
  retryFor?: Duration;
  /** the pilot's log on stderr: its level (default `warn`) and format (default text on a terminal, else json) */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  logFormat?: 'text' | 'json';
  /** the pilot's environment (Slurm's variables: its time budget and job id); default `process.env` */
  env?: Record<string, string | undefined>;
  /** stops the pilot: no more claims, running work aborted, its tokens put back; runPilot then resolves */
  signal?: AbortSignal;
}

/** Runs a pilot until the pool is drained (or a stop); resolves with what it did. */
export async function runPilot(options: RunPilotOptions): Promise<PilotSummary> {
  const config = pilotConnection(options);
  const env = options.env ?? process.env;
  const resolved = resolveWorkerOptions({ flags: workerFlags(options) });
  if (!resolved.options) {
    const [only] = resolved.errors;
    throw new UsageError(resolved.errors.length === 1 && only ? only : `invalid pilot options (${resolved.errors.length} problems)`, { problems: resolved.errors });
  }
  const o = resolved.options;
  const workerId = newWorkerId(o.workerId);
  const secrets = [config.password].filter((s): s is string => !!s);
  const log = createLogger({ level: o.logLevel, format: o.logFormat, secrets }).child({ worker: workerId });
  const work = new FunctionWork((doc, c) => options.work(doc as Token, workContext(doc, c, workerId)), { tokenTimeout: o.tokenTimeout, killGrace: o.killGrace });
  const couch = openCouch(config, { connections: Math.max(4, o.slots * 2 + 2) });
  const pilot = new Worker({ couch, options: o, log, workerId, hostname: shortHostname(), env, work });
  const onAbort = () => pilot.stop(`aborted: ${describeReason(options.signal?.reason)}`);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return pilotSummary(await pilot.run());
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await couch.close();
  }
}

function pilotConnection(options: RunPilotOptions): ConnectionConfig {
  if (typeof options.work !== 'function') throw new UsageError('runPilot: `work` must be a function (token, ctx) => result');
  if (options.pool && options.connection) throw new UsageError('runPilot: give `pool` or `connection`, not both');
  return options.pool ? poolConnection(options.pool) : resolvePoolConnection(options.connection).config;
}

/** The options as the worker's settings table takes them (its checks, defaults and messages). */
function workerFlags(options: RunPilotOptions): Record<string, unknown> {
  const text = (v: number | string | undefined) => (v === undefined ? undefined : String(v));
  const flags: Record<string, unknown> = {
    slots: options.slots,
    cpus: text(options.cpus),
    gpus: text(options.gpus),
    mem: text(options.mem),
    lease: options.lease,
    tokenTimeout: options.tokenTimeout,
    killGrace: options.killGrace,
    maxTokens: options.maxTokens,
    maxTime: options.maxTime,
    endless: options.endless,
    maxScrub: options.maxScrub,
    onSignal: options.onSignal,
    prefetch: text(options.prefetch),
    workerId: options.workerId,
    pilotRecord: options.pilotRecord,
    retryFor: options.retryFor,
    logLevel: options.logLevel ?? 'warn',
    logFormat: options.logFormat,
  };
  return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
}

function workContext(doc: TokenDoc, c: FunctionWorkContext, workerId: string): WorkContext {
  const { grant } = c;
  return {
    token: doc as Token,
    signal: c.signal,
    log: c.log,
    resources: { cpus: grant.needs.cpus, cores: grant.cores, gpus: grant.gpus, mem: grant.needs.mem },
    tokenDir: c.tokenDir,
    workerId,
  };
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'signal' : String(reason);
}
