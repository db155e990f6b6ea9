/**
 * picas as a typed library, as PiCaS users have it in Python (`RunActor.process_token`): connect with the
 * same layered configuration as the CLI, push tokens from any iterable, read the pool's status, and run a
 * pilot in this process whose work is a JavaScript function, with `picas-worker`'s claims, leases, logs
 * and exactly-once guarantees. See docs/library.md.
 *
 * @example
 * ```ts
 * import { connect, runPilot } from 'picas';
 * const pool = connect();
 * await pool.push([{ input: { n: 1 } }, { input: { n: 2 } }]);
 * const summary = await runPilot({ pool, work: async (token, ctx) => { ctx.log('working'); return { square: 4 }; } });
 * console.log(await pool.status());
 * await pool.close();
 * ```
 */
export { connect, type Pool } from './pool.js';
export type { ConnectOptions } from './connect.js';
export type { PushCounts, PushFailure, PushOptions } from './push.js';
export type { PoolStatus } from './status.js';
export { runPilot, type Duration, type RunPilotOptions, type TokenResources, type WorkContext, type WorkFunction } from './run-pilot.js';
export type { PilotSummary } from './pilot-summary.js';
export type { Resources, ResourcesInput, Token, TokenInput, TokenObject } from './token.js';
export { PicasError, UsageError } from '@picas/core/errors';
