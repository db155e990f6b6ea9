/**
 * Writes new tokens through `_bulk_docs`, in batches. Ids are chosen by the caller (deterministic in
 * `picas push`), so a conflict on a new document means a token with that id is already present.
 * Any other per-document error is collected and returned, never dropped.
 */
import type { Couch } from '../couch/connection.js';
import { withRetry } from '../couch/retry.js';
import type { TokenDoc } from '../token.js';

export const DEFAULT_PUSH_BATCH = 2000;

export interface PushFailure {
  id: string;
  error: string;
  reason?: string;
}

export interface PushResult {
  created: number;
  alreadyPresent: number;
  failed: PushFailure[];
}

export interface PushOptions {
  batchSize?: number;
  /** called after each batch with the documents handled so far */
  onProgress?: (handled: number, total: number) => void;
  signal?: AbortSignal;
}

type BulkRow = { id?: string; rev?: string; ok?: boolean; error?: string; reason?: string };

/** Batches in flight at once: the next batch is encoded and sent while the server stores the previous one. */
export const PUSH_CONCURRENCY = 2;

export async function pushTokens(couch: Couch, docs: readonly TokenDoc[], options: PushOptions = {}): Promise<PushResult> {
  const { http } = couch;
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_PUSH_BATCH);
  const result: PushResult = { created: 0, alreadyPresent: 0, failed: [] };
  let handled = 0;
  let next = 0;
  const writeBatch = async (start: number) => {
    const batch = docs.slice(start, start + batchSize);
    // the ids are fixed, so retrying a batch after a network fault cannot duplicate tokens
    const rows = await withRetry(
      () => http.expectOk<BulkRow[]>({ method: 'POST', path: http.dbPath('/_bulk_docs'), body: { docs: batch }, signal: options.signal, timeoutMs: 300_000 }, 'writing tokens'),
      { retries: 3, signal: options.signal },
    );
    if (!Array.isArray(rows) || rows.length !== batch.length) {
      // should not happen; never count documents we have no answer for as written
      for (const doc of batch) result.failed.push({ id: doc._id, error: 'no_answer', reason: 'the server did not report on this document' });
    } else {
      // counted by answer, not by position: the embedded server does not keep the request's order
      rows.forEach((row, i) => {
        const id = row.id ?? batch[i]!._id;
        if (row.error === undefined && (row.ok || row.rev)) result.created++;
        else if (row.error === 'conflict') result.alreadyPresent++;
        else result.failed.push({ id, error: row.error ?? 'unknown', reason: row.reason });
      });
    }
    handled += batch.length;
    options.onProgress?.(handled, docs.length);
  };
  // a few lanes, each taking the next batch; a failing batch stops its lane and the error is thrown
  const lane = async () => {
    while (next < docs.length && !options.signal?.aborted) {
      const start = next;
      next += batchSize;
      await writeBatch(start);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PUSH_CONCURRENCY, Math.ceil(docs.length / batchSize)) }, lane));
  return result;
}
