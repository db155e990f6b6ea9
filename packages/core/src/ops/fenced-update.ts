/**
 * Writes a change to a token this worker holds, fenced by its claim: the write carries the `_rev` we
 * last wrote, and on a 409/404 the token is read again and the change re-applied only if it is still
 * ours (same `claim_id`, still locked, a single leaf). Otherwise nothing is written and the reason says
 * who has it now. Heartbeats, completion and release all go through here.
 *
 * Network errors and 5xx are retried with jittered backoff until `retryForMs` runs out.
 */
import { ConflictError } from '../errors.js';
import type { CouchHttp } from '../couch/http.js';
import { withRetry } from '../couch/retry.js';
import { tokenState, type TokenDoc } from '../token.js';
import { hasConflicts, readToken, writable } from './read-token.js';

export type LostReason = 'deleted' | 'reset' | 'taken' | 'finished' | 'conflict';

export type FencedOutcome =
  | { written: true; doc: TokenDoc }
  | { written: false; lost: LostReason; message: string; current?: TokenDoc };

export interface FencedUpdateOptions {
  claimId: string;
  /** read the token and check it before writing: finds conflicting leaves that a PUT cannot see */
  verifyFirst?: boolean;
  /** keep retrying network errors and 5xx for this long (ms); default 5 minutes */
  retryForMs?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** what we are doing, for error messages, e.g. `renewing the lease` */
  what?: string;
}

/** Why a token read back is no longer ours, or undefined when it still is. */
export function whyNotHeld(doc: TokenDoc | undefined, claimId: string): { lost: LostReason; message: string } | undefined {
  if (!doc) return { lost: 'deleted', message: 'the token was deleted' };
  if (hasConflicts(doc)) {
    return { lost: 'conflict', message: `the token has conflicting revisions (${doc._conflicts!.join(', ')}): ownership cannot be proven, left for picas repair` };
  }
  const state = tokenState(doc);
  if (doc.claim_id !== claimId) {
    if (state === 'todo') return { lost: 'reset', message: 'the token was reset to todo' };
    if (state === 'locked') return { lost: 'taken', message: `the token was claimed by ${doc.worker_id ?? 'another worker'}` };
    return { lost: 'finished', message: `the token was set to ${state} by someone else` };
  }
  if (state === 'todo') return { lost: 'reset', message: 'the token was reset to todo' };
  if (state !== 'locked') return { lost: 'finished', message: `the token was already set to ${state}` };
  return undefined;
}

/** The token read back is the write we sent (its answer lost on the way): same claim, state and timestamps. */
function ownWriteLanded(current: TokenDoc | undefined, sent: TokenDoc, claimId: string): boolean {
  if (!current || hasConflicts(current) || current.claim_id !== claimId || sent.claim_id !== claimId) return false;
  return tokenState(current) === tokenState(sent) && current.lock === sent.lock && current.done === sent.done && current.exit_code === sent.exit_code;
}

export async function fencedUpdate(
  http: CouchHttp,
  held: TokenDoc,
  apply: (doc: TokenDoc) => TokenDoc,
  options: FencedUpdateOptions,
): Promise<FencedOutcome> {
  const retry = <T>(fn: () => Promise<T>) =>
    withRetry(fn, { retries: Infinity, deadlineMs: options.retryForMs ?? 300_000, baseMs: 250, maxMs: 15_000, signal: options.signal, onRetry: options.onRetry });
  const reread = async () => {
    const current = await retry(() => readToken(http, held._id, { signal: options.signal }));
    const lost = whyNotHeld(current, options.claimId);
    return { current, lost };
  };
  let base = held;
  if (options.verifyFirst) {
    const { current, lost } = await reread();
    if (lost) return { written: false, ...lost, current };
    base = current!;
  }
  for (let rereads = 0; ; rereads++) {
    const body = writable(apply(base));
    body._rev = base._rev;
    const res = await retry(async () => {
      const r = await http.request<{ ok?: boolean; rev?: string }>({ method: 'PUT', path: http.docPath(base._id), body, signal: options.signal });
      if (r.status >= 500 || r.status === 429) throw http.errorFor(r, options.what);
      return r;
    });
    if (res.status === 201 || res.status === 202) return { written: true, doc: { ...body, _rev: res.body.rev! } };
    if (res.status !== 409 && res.status !== 404) throw http.errorFor(res, options.what ?? `writing token ${held._id}`);
    const { current, lost } = await reread();
    // a 409 after a retried write: the first try was applied, only its answer was lost
    if (lost && ownWriteLanded(current, body, options.claimId)) return { written: true, doc: current! };
    if (lost) return { written: false, ...lost, current };
    if (rereads >= 20) throw new ConflictError(`token ${held._id} kept changing while ${options.what ?? 'writing it'}`);
    base = current!;
  }
}
