/**
 * A sweep's tokens for `picas push`, batch by batch as they are sent: either as documents or already encoded
 * as `_bulk_docs` bodies (what the push sends, as for a streamed text file: no document objects are made).
 * Each token is a plain PiCaS token whose `input` is the filled-in command, with `params` (its parameters, by
 * name) besides; the sweep's name is its id's prefix.
 */
import type { EncodedTokenBatch } from './ops/push-tokens.js';
import { canonicalOrder, sweepPoints, sweepToken, type Sweep, type SweepToken } from './sweep.js';
import { newToken, nowSeconds, type TokenDoc } from './token.js';

export interface SweepTokenSource {
  tokens: number;
  /** the tokens (id, input, params) in sweep order */
  points(): Generator<SweepToken>;
  /** the token documents, `size` at a time */
  batches(size: number): AsyncGenerator<TokenDoc[]>;
  /** the same documents as `_bulk_docs` bodies, `size` at a time */
  encodedBatches(size: number): AsyncGenerator<EncodedTokenBatch>;
}

export function sweepTokenSource(sweep: Sweep, options: { now?: number } = {}): SweepTokenSource {
  const now = options.now ?? nowSeconds();
  const order = canonicalOrder(sweep.names);
  const fields = { created: now, ...sweep.fields };
  function* points(): Generator<SweepToken> {
    for (const values of sweepPoints(sweep)) yield sweepToken(sweep, values, order);
  }
  async function* slices<T>(size: number, make: (tokens: SweepToken[]) => T): AsyncGenerator<T> {
    let batch: SweepToken[] = [];
    for (const token of points()) {
      batch.push(token);
      if (batch.length >= size) {
        yield make(batch);
        batch = [];
      }
    }
    if (batch.length > 0) yield make(batch);
  }
  const document = (t: SweepToken) => newToken(t.id, t.input, { ...fields, params: t.params }, now);
  // newToken's key order, as JSON: what JSON.stringify(document(t)) gives, without the object
  const tail = `,"exit_code":"","output":{},"error":[],${JSON.stringify(fields).slice(1, -1)},"params":`;
  return {
    tokens: sweep.count,
    points,
    batches: (size) => slices(Math.max(1, size), (tokens) => tokens.map(document)),
    encodedBatches: (size) =>
      slices(Math.max(1, size), (tokens): EncodedTokenBatch => ({
        ids: tokens.map((t) => t.id),
        ranges: [],
        doc: (i) => {
          const t = tokens[i]!;
          return `{"_id":${JSON.stringify(t.id)},"type":"token","lock":0,"done":0,"hostname":"","scrub_count":0,"input":${JSON.stringify(t.input)}${tail}${JSON.stringify(t.params)}}`;
        },
      })),
  };
}
