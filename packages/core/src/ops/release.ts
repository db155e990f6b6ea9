/**
 * Puts a token this worker holds back to todo (PiCaS' scrub: scrub_count + 1), recording why, e.g. when
 * the pilot is stopped by a signal before the token finished, or a prefetched token was never started.
 * Fenced like every write to a held token: a token that is no longer ours is left alone.
 */
import type { CouchHttp } from '../couch/http.js';
import { scrubbed, type TokenDoc } from '../token.js';
import { fencedUpdate, type FencedOutcome } from './fenced-update.js';

export interface ReleaseOptions {
  claimId: string;
  workerId?: string;
  /** short event name recorded in events[], e.g. `requeued` */
  event?: string;
  /** why, recorded in events[] */
  reason: string;
  retryForMs?: number;
  signal?: AbortSignal;
}

export function requeueToken(http: CouchHttp, held: TokenDoc, options: ReleaseOptions): Promise<FencedOutcome> {
  return fencedUpdate(http, held, (doc) => scrubbed(doc, options.event ?? 'requeued', options.reason, Date.now(), options.workerId), {
    claimId: options.claimId,
    retryForMs: options.retryForMs,
    signal: options.signal,
    what: `putting token ${held._id} back to todo`,
  });
}
