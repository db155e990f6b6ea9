/** The pool handle `connect()` returns: push, status, close. */
import { describeConnection, openCouch, type ConnectionConfig, type Couch } from '@picas/core';
import { resolvePoolConnection, type ConnectOptions } from './connect.js';
import { pushTokenInputs, type PushCounts, type PushOptions } from './push.js';
import { poolStatus, type PoolStatus } from './status.js';
import type { TokenInput } from './token.js';

export interface Pool {
  /** where the pool is: `http://host:5984/db as user` (never the password) */
  readonly description: string;
  /** the database name */
  readonly database: string;
  /** what the configuration said while it was read (e.g. "using the embedded server"), and its warnings */
  readonly notices: readonly string[];
  readonly warnings: readonly string[];
  /**
   * Adds tokens, as `picas push` does (same checks, ids and fields); from an array, any iterable or an async
   * generator, streamed in rounds. Rejects with a UsageError (every problem in `problems`) on an invalid token.
   */
  push(tokens: Iterable<TokenInput> | AsyncIterable<TokenInput>, options?: PushOptions): Promise<PushCounts>;
  /** The counts `picas status` shows. */
  status(options?: { signal?: AbortSignal }): Promise<PoolStatus>;
  /** Ends every connection; the handle cannot be used afterwards. */
  close(): Promise<void>;
}

/** The connection of each open pool, for `runPilot({ pool })` (kept out of the public type). */
const connections = new WeakMap<Pool, ConnectionConfig>();

/** @internal */
export function poolConnection(pool: Pool): ConnectionConfig {
  const config = connections.get(pool);
  if (!config) throw new TypeError('runPilot: `pool` is not a pool from connect()');
  return config;
}

class PoolHandle implements Pool {
  readonly description: string;
  readonly database: string;
  private closed = false;

  constructor(
    private readonly couch: Couch,
    readonly notices: readonly string[],
    readonly warnings: readonly string[],
  ) {
    this.description = describeConnection(couch.config);
    this.database = couch.config.db;
  }

  push(tokens: Iterable<TokenInput> | AsyncIterable<TokenInput>, options?: PushOptions): Promise<PushCounts> {
    return pushTokenInputs(this.open(), tokens, options);
  }

  status(options?: { signal?: AbortSignal }): Promise<PoolStatus> {
    return poolStatus(this.open(), options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.couch.close();
  }

  private open(): Couch {
    if (this.closed) throw new Error(`the pool ${this.description} is closed`);
    return this.couch;
  }
}

/**
 * Opens a pool with the same layered configuration as the CLI (defaults, `.env`, env, the config file, then
 * `options`). Throws a UsageError listing every problem at once; nothing is requested until it is used.
 */
export function connect(options: ConnectOptions = {}): Pool {
  const { config, notices, warnings } = resolvePoolConnection(options);
  const pool = new PoolHandle(openCouch(config), notices, warnings);
  connections.set(pool, config);
  return pool;
}
