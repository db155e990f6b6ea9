/**
 * Renews the lease of a token this worker runs. The token is read first (with its conflicts), so that a
 * reset, a takeover, a deletion or a split into conflicting revisions is noticed: then the answer is
 * `written: false` with the reason, and the worker must stop the token and not write its result.
 */
import type { CouchHttp } from '../couch/http.js';
import { withLease, type TokenDoc } from '../token.js';
import { fencedUpdate, type FencedOutcome } from './fenced-update.js';

export interface HeartbeatOptions {
  claimId: string;
  leaseMs: number;
  retryForMs?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export function renewLease(http: CouchHttp, held: TokenDoc, options: HeartbeatOptions): Promise<FencedOutcome> {
  return fencedUpdate(http, held, (doc) => withLease(doc, options.leaseMs), {
    claimId: options.claimId,
    verifyFirst: true,
    retryForMs: options.retryForMs,
    signal: options.signal,
    onRetry: options.onRetry,
    what: `renewing the lease of token ${held._id}`,
  });
}
