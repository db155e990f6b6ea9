/** Step 1: the server's ceiling, conditional single-doc PUTs/s and _bulk_docs inserts/s. */
import { newToken, type TokenDoc } from '@picas/core';
import { textTokenHash } from '@picas/core/token-text-stream';
import type { Http } from './bench-http.js';
import { createDb } from './bench-db.js';
import { pushFileLine } from './push-rate.js';

/** 1a. conditional single-doc PUT updates/s from 16 concurrent clients, each updating its own documents. */
export async function putCeiling(http: Http, seconds: number): Promise<number> {
  const db = 'bench_put';
  await createDb(http, db, false);
  const clients = 16;
  const docsPerClient = 8;
  const revs = new Map<string, string>();
  const docs = Array.from({ length: clients * docsPerClient }, (_, i) => ({ _id: `d${i}`, n: 0 }));
  const bulk = await http.call('POST', `/${db}/_bulk_docs`, { docs });
  for (const r of bulk.body) revs.set(r.id, r.rev);
  let count = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      let k = 0;
      while (Date.now() < deadline) {
        const id = `d${c * docsPerClient + (k++ % docsPerClient)}`;
        const r = await http.call('PUT', `/${db}/${id}`, { _id: id, _rev: revs.get(id), n: k });
        if (r.status === 201 || r.status === 202) {
          revs.set(id, r.body.rev);
          count++;
        }
      }
    }),
  );
  await http.call('DELETE', `/${db}`);
  return count / seconds;
}

/**
 * 1b. _bulk_docs inserts/s from a 2-lane client (two requests in flight, batches of 2,000), of the very
 * documents `picas push` writes for the push file of step 2 (pushFileLine): the same inputs, the same ids
 * (`token_` + the content hash), the same key order. The documents are made before the clock starts.
 */
export async function bulkCeiling(http: Http, total: number): Promise<number> {
  const db = 'bench_bulk';
  await createDb(http, db, false);
  const batch = 2000;
  const batches: TokenDoc[][] = [];
  for (let i = 0; i < total; i += batch) {
    batches.push(Array.from({ length: Math.min(batch, total - i) }, (_, j) => newToken(`token_${textTokenHash(pushFileLine(i + j))}`, pushFileLine(i + j))));
  }
  const started = performance.now();
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < batches.length) {
        const docs = batches[next++]!;
        const r = await http.call('POST', `/${db}/_bulk_docs`, { docs });
        if (r.status >= 300) throw new Error(`bulk insert failed: ${r.status}`);
      }
    }),
  );
  const rate = total / ((performance.now() - started) / 1000);
  await http.call('DELETE', `/${db}`);
  return rate;
}
