/** Jittered exponential backoff for transient CouchDB faults (network errors, 5xx). */
import { isTransient } from './errors.js';

export interface RetryOptions {
  signal?: AbortSignal;
  /** how many retries after the first attempt; Infinity retries until `deadlineMs` */
  retries?: number;
  baseMs?: number;
  maxMs?: number;
  /** give up after this much time in total */
  deadlineMs?: number;
  isRetryable?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * Failures in a row of something retried for a limited time (`--retry-for`, withRetry's `deadlineMs`): each
 * failure gives the wait before the next try (backoffDelay) and whether the streak has lasted the limit; a
 * success ends it.
 */
export class FailureStreak {
  private since: number | undefined;
  private attempts = 0;

  /** `startedAt`: count the first streak from then (before a first attempt, whose own time counts), not from its first failure */
  constructor(private readonly options: { baseMs: number; maxMs: number; limitMs: number; startedAt?: number; now?: () => number; random?: () => number }) {
    this.since = options.startedAt;
  }

  /**
   * A failure: how long the streak has lasted, whether that is the limit, and the wait before the next try.
   * Before the limit the wait ends at it at the latest; past it (a caller that keeps trying, e.g. while
   * commands still run) it is the full backoff, never a busy loop.
   */
  fail(): { failures: number; delayMs: number; failingMs: number; expired: boolean } {
    const now = (this.options.now ?? Date.now)();
    this.since ??= now;
    const failingMs = now - this.since;
    const expired = failingMs >= this.options.limitMs;
    const backoff = backoffDelay(this.attempts++, this.options.baseMs, this.options.maxMs, this.options.random);
    return { failures: this.attempts, delayMs: expired ? backoff : Math.min(backoff, this.options.limitMs - failingMs), failingMs, expired };
  }

  succeed(): void {
    this.since = undefined;
    this.attempts = 0;
  }
}

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const { retries = 5, baseMs = 200, maxMs = 10_000, deadlineMs, isRetryable = isTransient } = opts;
  const streak = new FailureStreak({ baseMs, maxMs, limitMs: deadlineMs ?? Infinity, startedAt: Date.now() });
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const failure = streak.fail();
      if (attempt >= retries || failure.expired || !isRetryable(err) || opts.signal?.aborted) throw err;
      opts.onRetry?.(err, attempt + 1, failure.delayMs);
      await sleep(failure.delayMs, opts.signal);
    }
  }
}

/** A sleep that an AbortSignal cuts short (resolving, not rejecting). `unref` lets the process exit meanwhile. */
export function sleep(ms: number, signal?: AbortSignal, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    if (options.unref) timer.unref?.();
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
