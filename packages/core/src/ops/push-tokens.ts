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
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_PUSH_BATCH);
  async function* slices() {
    for (let start = 0; start < docs.length; start += batchSize) yield docs.slice(start, start + batchSize);
  }
  return pushTokenBatches(couch, slices(), docs.length, options);
}

/**
 * Writes batches as they come (e.g. streamed from a file, token-text-stream.ts), `PUSH_CONCURRENCY` at a
 * time; only the batches in flight are held in memory.
 */
export async function pushTokenBatches(couch: Couch, batches: AsyncIterable<TokenDoc[]>, total: number, options: PushOptions = {}): Promise<PushResult> {
  const { http } = couch;
  const result: PushResult = { created: 0, alreadyPresent: 0, failed: [] };
  let handled = 0;
  const source = batches[Symbol.asyncIterator]();
  // one lane at a time takes the next batch (an async generator must not be advanced concurrently)
  let taking: Promise<unknown> = Promise.resolve();
  const take = (): Promise<IteratorResult<TokenDoc[]>> => {
    const next = taking.then(() => source.next());
    taking = next.catch(() => undefined);
    return next;
  };
  const writeBatch = async (batch: TokenDoc[]) => {
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
    options.onProgress?.(handled, total);
  };
  // a few lanes, each taking the next batch; a failing batch stops the others and the error is thrown
  let failed = false;
  const lane = async () => {
    while (!options.signal?.aborted && !failed) {
      const next = await take();
      if (next.done) return;
      try {
        await writeBatch(next.value);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: PUSH_CONCURRENCY }, lane));
  } finally {
    await source.return?.(undefined);
  }
  return result;
}
