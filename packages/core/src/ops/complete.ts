/**
 * Records a token's result in one PUT: exit_code, done, timings, and the logs as inline attachments.
 * Fenced (see fenced-update): on a 409 the result is re-applied onto the newer document when the token is
 * still ours, keeping the fields others added; when it is not ours any more, nothing is written.
 * With `maxScrub`, a failed token whose scrub_count is below it goes back to todo instead (its error and
 * logs are kept).
 */
import type { CouchHttp } from '../couch/http.js';
import { finished, scrubbed, type RunResult, type TokenDoc } from '../token.js';
import { fencedUpdate, type FencedOutcome } from './fenced-update.js';

export interface CompleteOptions {
  claimId: string;
  workerId?: string;
  /** a failed token with scrub_count below this goes back to todo (default 0: never) */
  maxScrub?: number;
  retryForMs?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export type CompleteOutcome = FencedOutcome & { requeued?: boolean };

/** The token with this result applied: done/error, or back to todo for another try under `maxScrub`. */
export function withResult(doc: TokenDoc, result: RunResult, options: Pick<CompleteOptions, 'maxScrub' | 'workerId'> = {}, nowMs = Date.now()): TokenDoc {
  const next = finished(doc, result);
  const scrubs = typeof doc.scrub_count === 'number' ? doc.scrub_count : 0;
  if (result.exitCode !== 0 && scrubs < (options.maxScrub ?? 0)) {
    const why = result.reason ?? `exit code ${result.exitCode}`;
    return scrubbed(next, 'retry', `${why}; back to todo for try ${scrubs + 2} (--max-scrub ${options.maxScrub})`, nowMs, options.workerId);
  }
  return next;
}

export function willRequeue(doc: TokenDoc, result: RunResult, maxScrub = 0): boolean {
  return result.exitCode !== 0 && (typeof doc.scrub_count === 'number' ? doc.scrub_count : 0) < maxScrub;
}

export async function completeToken(http: CouchHttp, held: TokenDoc, result: RunResult, options: CompleteOptions): Promise<CompleteOutcome> {
  let requeued = false;
  const outcome = await fencedUpdate(
    http,
    held,
    (doc) => {
      requeued = willRequeue(doc, result, options.maxScrub);
      return withResult(doc, result, options);
    },
    { claimId: options.claimId, retryForMs: options.retryForMs, signal: options.signal, onRetry: options.onRetry, what: `saving the result of token ${held._id}` },
  );
  return outcome.written ? { ...outcome, requeued } : outcome;
}
