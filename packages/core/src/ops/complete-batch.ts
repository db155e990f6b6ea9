/**
 * Batched completion, for very short tokens: results that finish within a short window are written in one
 * `_bulk_docs` request instead of one PUT each. Every document still carries the `_rev` this worker last
 * wrote, so each one wins or fails on its own, exactly like the single PUT: a document the server refuses
 * (409, or any per-document error), and every document of a request that failed as a whole, goes through
 * the single-document path (`completeToken`: re-read, fencing, re-apply), so nothing is lost and nothing
 * is written over a token that is no longer ours.
 */
import type { CouchHttp } from '../couch/http.js';
import { UnreachableError } from '../errors.js';
import type { RunResult, TokenDoc } from '../token.js';
import { completeToken, willRequeue, withResult, type CompleteOptions, type CompleteOutcome } from './complete.js';
import { writable } from './read-token.js';

interface Pending {
  held: TokenDoc;
  result: RunResult;
  options: CompleteOptions;
  resolve: (outcome: CompleteOutcome) => void;
  reject: (err: unknown) => void;
}

type BulkRow = { id?: string; ok?: boolean; rev?: string; error?: string };

export class CompletionBatcher {
  private pending: Pending[] = [];
  private timer?: NodeJS.Timeout;
  /** `_bulk_docs` requests sent, documents written through them, and single-document writes */
  readonly stats = { batches: 0, batched: 0, singles: 0 };

  constructor(
    private readonly http: CouchHttp,
    private readonly options: { maxBatch: number; windowMs: number },
  ) {}

  /** Records a result; resolves once it is written (or known not to be ours any more). */
  complete(held: TokenDoc, result: RunResult, options: CompleteOptions): Promise<CompleteOutcome> {
    return new Promise((resolve, reject) => {
      this.pending.push({ held, result, options, resolve, reject });
      if (this.pending.length >= this.options.maxBatch) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.options.windowMs);
    });
  }

  /** Writes everything waiting now (also called when the pilot stops). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    if (batch.length === 1) return this.single(batch[0]!);
    const bodies = batch.map((p) => {
      const body = writable(withResult(p.held, p.result, p.options));
      body._rev = p.held._rev;
      return body;
    });
    let rows: BulkRow[] | undefined;
    try {
      const res = await this.http.request<BulkRow[]>({ method: 'POST', path: this.http.dbPath('/_bulk_docs'), body: { docs: bodies }, timeoutMs: 120_000 });
      if ((res.status === 201 || res.status === 202) && Array.isArray(res.body)) rows = res.body;
    } catch (err) {
      if (!(err instanceof UnreachableError)) {
        for (const p of batch) p.reject(err);
        return;
      }
    }
    this.stats.batches++;
    await Promise.all(
      batch.map((p, i) => {
        const body = bodies[i]!;
        const row = rows?.find((r) => r.id === body._id);
        if (row?.ok && row.rev) {
          this.stats.batched++;
          p.resolve({ written: true, doc: { ...body, _rev: row.rev }, requeued: willRequeue(p.held, p.result, p.options.maxScrub) });
          return undefined;
        }
        return this.single(p);
      }),
    );
  }

  /** The single-document path: a PUT, and on a 409 a re-read and the fencing rules. */
  private async single(p: Pending): Promise<void> {
    this.stats.singles++;
    try {
      // a bulk request that failed in transit may have been applied: fencedUpdate sees our own result then
      p.resolve(await completeToken(this.http, p.held, p.result, p.options));
    } catch (err) {
      p.reject(err);
    }
  }
}
