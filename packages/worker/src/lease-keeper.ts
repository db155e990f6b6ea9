/**
 * Keeps the lease of one held token alive: a heartbeat every third of the lease (ops/heartbeat). When a
 * heartbeat finds the token is no longer ours (reset, deleted, taken over, finished by someone else, or
 * split into conflicting revisions), `lost` is aborted with the reason: the runner stops the command and
 * the worker does not write its result. Transient faults are logged and retried at the next beat.
 */
import type { CouchHttp, Logger, TokenDoc } from '@picas/core';
import type { LostReason } from '@picas/core/ops/fenced-update';
import { renewLease } from '@picas/core/ops/heartbeat';

export interface LostInfo {
  lost: LostReason;
  message: string;
}

export class LeaseKeeper {
  /** aborted (with a LostInfo reason) when the token turns out not to be ours any more */
  readonly lost = new AbortController();
  private doc: TokenDoc;
  private timer?: NodeJS.Timeout;
  private inflight?: Promise<void>;
  private stopped = false;
  /** aborts a heartbeat in flight when the keeper stops (its retries must not delay the completion) */
  private readonly stopping = new AbortController();
  beats = 0;

  constructor(
    private readonly http: CouchHttp,
    doc: TokenDoc,
    private readonly options: { claimId: string; leaseMs: number; log: Logger; intervalMs?: number },
  ) {
    this.doc = doc;
  }

  /** The token as we last wrote it (its `_rev` is the one to write on). */
  get current(): TokenDoc {
    return this.doc;
  }

  get lostInfo(): LostInfo | undefined {
    return this.lost.signal.aborted ? (this.lost.signal.reason as LostInfo) : undefined;
  }

  get intervalMs(): number {
    return this.options.intervalMs ?? Math.max(200, Math.floor(this.options.leaseMs / 3));
  }

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.lost.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.inflight = this.beat().finally(() => {
        this.inflight = undefined;
        this.schedule();
      });
    }, this.intervalMs);
  }

  /** One renewal now. */
  async beat(): Promise<void> {
    const { log } = this.options;
    try {
      const outcome = await renewLease(this.http, this.doc, {
        claimId: this.options.claimId,
        leaseMs: this.options.leaseMs,
        retryForMs: this.intervalMs,
        signal: this.stopping.signal,
        onRetry: (err, attempt, delay) => log.warn({ err, attempt, delay_ms: delay }, 'heartbeat: CouchDB unavailable, retrying'),
      });
      this.beats++;
      if (outcome.written) {
        this.doc = outcome.doc;
        log.debug({ lease_until: outcome.doc.lease_until }, 'lease renewed');
      } else {
        log.warn({ lost: outcome.lost }, `lost the token: ${outcome.message}; stopping it, its result will not be written`);
        this.lost.abort({ lost: outcome.lost, message: outcome.message } satisfies LostInfo);
      }
    } catch (err) {
      // stopped meanwhile: the completion (fenced itself) takes over; a PUT cut short only costs it a re-read
      if (this.stopped) return;
      log.error({ err }, 'heartbeat failed; will retry at the next beat');
    }
  }

  /** Stops the heartbeats and waits for one in flight, so that the next write uses the latest `_rev`. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // a fixed reason: a bare abort() would build a DOMException (with its stack) for every token
    this.stopping.abort(KEEPER_STOPPED);
    await this.inflight;
  }
}

const KEEPER_STOPPED = new Error('lease keeper stopped');
