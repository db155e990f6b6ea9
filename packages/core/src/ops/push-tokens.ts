/**
 * Writes new tokens through `_bulk_docs`, in batches. Ids are chosen by the caller (deterministic in
 * `picas push`), so a conflict on a new document means a token with that id is already present.
 * Any other per-document error is collected and returned, never dropped. A batch the server does not
 * answer for (after retries) is reported with the file and lines it came from; the push stops taking new
 * batches, lets the ones in flight finish, and says which lines were not sent. Every document in a
 * `_bulk_docs` request is written whole or not at all, so running the same push again finishes the job:
 * what was written comes back as a conflict ("already present").
 */
import type { Couch } from '../couch/connection.js';
import { withRetry } from '../couch/retry.js';
import type { TokenDoc } from '../token.js';

export const DEFAULT_PUSH_BATCH = 2000;

/** Batches in flight at once: the next batches are read, encoded and sent while the server stores one. */
export const PUSH_CONCURRENCY = 4;

export interface PushFailure {
  id: string;
  error: string;
  reason?: string;
}

/** Lines `from`..`to` of `file` (1-based, inclusive), as given on the command line. */
export interface LineRange {
  file: string;
  from: number;
  to: number;
}

/**
 * A batch of documents given as JSON text, with its ids in order and the lines it came from. `doc(i)` is
 * the JSON of the i-th document: each lane writes the `_bulk_docs` body into a buffer of its own, reused
 * from batch to batch, so a push makes no large strings or buffers per batch (memory stays flat).
 */
export interface EncodedTokenBatch {
  ids: string[];
  doc(index: number): string;
  ranges: LineRange[];
}

/** A growing buffer, reused for every body one lane sends. */
class BodyWriter {
  private buffer = Buffer.allocUnsafe(1 << 16);
  private length = 0;

  /** `{"docs":[doc(0),doc(1),...]}`; valid until the next call. */
  write(batch: EncodedTokenBatch): Buffer {
    this.length = 0;
    this.put('{"docs":[');
    for (let i = 0; i < batch.ids.length; i++) {
      if (i > 0) this.put(',');
      this.put(batch.doc(i));
    }
    this.put(']}');
    return this.buffer.subarray(0, this.length);
  }

  /** After a failed request the old buffer may still sit in a socket's queue: use a new one. */
  renew(): void {
    this.buffer = Buffer.allocUnsafe(this.buffer.length);
  }

  private put(text: string): void {
    // at most 3 bytes per UTF-16 unit
    if (this.length + text.length * 3 > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + text.length * 3));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
  }
}

/** A batch whose request failed (after retries): none of its tokens is counted as written. */
export interface PushBatchError {
  /** where its tokens came from: file and lines, or their positions in the push */
  where: string;
  tokens: number;
  error: unknown;
}

export interface PushResult {
  created: number;
  alreadyPresent: number;
  failed: PushFailure[];
  /** batches whose request failed; the push stopped taking new batches at the first */
  failedBatches: PushBatchError[];
  /** tokens never sent because the push stopped (0 when it ran to the end) */
  notSent: number;
  /** where the tokens never sent begin, e.g. `tokens.txt after line 4000` */
  notSentFrom?: string;
}

export interface PushOptions {
  batchSize?: number;
  /** batches in flight at once (default PUSH_CONCURRENCY) */
  concurrency?: number;
  /** called after each batch with the documents handled so far */
  onProgress?: (handled: number, total: number) => void;
  signal?: AbortSignal;
}

type BulkRow = { id?: string; rev?: string; ok?: boolean; error?: string; reason?: string };

/** `a.txt lines 1-2000`, or several files' ranges joined. */
export function describeRanges(ranges: readonly LineRange[]): string {
  return ranges.map((r) => (r.from === r.to ? `${r.file} line ${r.from}` : `${r.file} lines ${r.from}-${r.to}`)).join(', ');
}

export async function pushTokens(couch: Couch, docs: readonly TokenDoc[], options: PushOptions = {}): Promise<PushResult> {
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_PUSH_BATCH);
  async function* slices() {
    for (let start = 0; start < docs.length; start += batchSize) yield docs.slice(start, start + batchSize);
  }
  return pushTokenBatches(couch, slices(), docs.length, options);
}

/**
 * Writes batches as they come (e.g. streamed from a file, token-text-stream.ts), `concurrency` at a
 * time; only the batches in flight are held in memory, and the source is read only as fast as the
 * server takes them.
 */
export async function pushTokenBatches(couch: Couch, batches: AsyncIterable<TokenDoc[] | EncodedTokenBatch>, total: number, options: PushOptions = {}): Promise<PushResult> {
  const { http } = couch;
  const result: PushResult = { created: 0, alreadyPresent: 0, failed: [], failedBatches: [], notSent: 0 };
  let handled = 0;
  let taken = 0;
  let lastRange: LineRange | undefined;
  const source = batches[Symbol.asyncIterator]();
  // set at the first failed batch: no lane takes another
  let stop = false;
  // one lane at a time takes the next batch (an async generator must not be advanced concurrently)
  let taking: Promise<unknown> = Promise.resolve();
  let exhausted = false;
  const take = (): Promise<IteratorResult<TokenDoc[] | EncodedTokenBatch>> => {
    const next = taking.then(() => (stop ? ({ done: true, value: undefined } as const) : source.next()));
    taking = next.then((r) => (exhausted ||= !!r.done && !stop), () => undefined);
    return next;
  };
  const writeBatch = async (batch: TokenDoc[] | EncodedTokenBatch, writer: BodyWriter) => {
    const encoded = !Array.isArray(batch);
    const ids = encoded ? batch.ids : batch.map((d) => d._id);
    const first = taken;
    taken += ids.length;
    if (encoded && batch.ranges.length > 0) lastRange = batch.ranges[batch.ranges.length - 1];
    const body = encoded ? writer.write(batch) : { docs: batch };
    let rows: BulkRow[];
    try {
      // the ids are fixed, so retrying a batch after a network fault cannot duplicate tokens
      rows = await withRetry(
        () => http.expectOk<BulkRow[]>({ method: 'POST', path: http.dbPath('/_bulk_docs'), body, signal: options.signal, timeoutMs: 300_000 }, 'writing tokens'),
        { retries: 3, signal: options.signal },
      );
    } catch (err) {
      writer.renew();
      if (options.signal?.aborted) throw err;
      const where = encoded && batch.ranges.length > 0 ? describeRanges(batch.ranges) : `tokens ${first + 1}-${first + ids.length} of the push`;
      result.failedBatches.push({ where, tokens: ids.length, error: err });
      stop = true;
      return;
    }
    if (!Array.isArray(rows) || rows.length !== ids.length) {
      // should not happen; never count documents we have no answer for as written
      for (const id of ids) result.failed.push({ id, error: 'no_answer', reason: 'the server did not report on this document' });
    } else {
      // counted by answer, not by position: the embedded server does not keep the request's order
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        if (row.error === undefined && (row.ok || row.rev)) result.created++;
        else if (row.error === 'conflict') result.alreadyPresent++;
        else result.failed.push({ id: row.id ?? ids[i]!, error: row.error ?? 'unknown', reason: row.reason });
      }
    }
    handled += ids.length;
    options.onProgress?.(handled, total);
  };
  // a few lanes, each taking the next batch; after a failed batch no lane takes another, and the ones in
  // flight finish, so that every batch sent is accounted for
  const lane = async () => {
    const writer = new BodyWriter();
    while (!options.signal?.aborted && !stop) {
      const next = await take();
      if (next.done) return;
      await writeBatch(next.value, writer);
    }
  };
  try {
    const lanes = Math.max(1, options.concurrency ?? PUSH_CONCURRENCY);
    const settled = await Promise.allSettled(Array.from({ length: lanes }, lane));
    const thrown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (thrown) throw thrown.reason;
  } finally {
    await source.return?.(undefined);
  }
  if (!exhausted && result.failedBatches.length > 0) {
    result.notSent = Math.max(0, total - taken);
    if (result.notSent > 0) result.notSentFrom = lastRange ? `${lastRange.file} after line ${lastRange.to}` : `token ${taken + 1} of the push`;
  }
  return result;
}
