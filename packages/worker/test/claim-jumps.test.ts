// Claimers that compete read their windows from random keys in the pool (claim-spread.ts), never with `skip`,
// which CouchDB pays for row by row. Driven in-process against the test server, with the real claim and
// completion code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { newToken, type TokenDoc } from '@picas/core';
import type { CouchHttp } from '@picas/core/couch/http';
import { Claimer } from '@picas/core/ops/claim';
import { completeToken } from '@picas/core/ops/complete';
import { fileLabel } from '@picas/testkit';
import { monitorCounts, poolDatabase, pushTokens } from './helpers.js';

const db = await poolDatabase(fileLabel(import.meta.url));
const { couch } = db;

/** The database's client, recording the query of every request (and showing each to `seen`, if given). */
function recording(http: CouchHttp, seen?: (query: Record<string, unknown>) => void): { http: CouchHttp; queries: Array<Record<string, unknown>> } {
  const queries: Array<Record<string, unknown>> = [];
  const wrapped = Object.create(http) as CouchHttp;
  wrapped.request = (req) => {
    queries.push({ ...(req.query ?? {}) });
    seen?.(req.query ?? {});
    return http.request(req);
  };
  return { http: wrapped, queries };
}

const complete = (doc: TokenDoc) =>
  completeToken(couch.http, doc, { exitCode: 0, started: 0, finished: 0, hostname: 'test' }, { claimId: doc.claim_id!, workerId: doc.worker_id!, maxScrub: 0 });

/**
 * Claims and completes with every claimer, one token a round, until each has found the pool empty 3 times.
 * Each token won is added to `seen` (and shown to `won`); none may be won twice.
 */
async function drain(claimers: Claimer[], seen: Set<string>, won?: (id: string) => void): Promise<void> {
  await Promise.all(
    claimers.map(async (c) => {
      for (let idle = 0; idle < 3; ) {
        const round = await c.claim({ max: 1 });
        if (round.outcome === 'won') {
          idle = 0;
          for (const w of round.won) {
            assert.ok(!seen.has(w.doc._id), `${w.doc._id} won twice`);
            seen.add(w.doc._id);
            won?.(w.doc._id);
            await complete(w.doc);
          }
        } else if (round.outcome === 'empty') {
          idle++;
          c.forget();
          await new Promise((r) => setTimeout(r, 50));
        } else {
          await new Promise((r) => setTimeout(r, round.retryAfterMs ?? 50));
        }
      }
    }),
  );
}

/** 409s per claim attempt of these claimers, within the bound, with the counts in the message. */
function assertFewConflicts(claimers: Claimer[], most: number): void {
  const attempts = claimers.reduce((n, c) => n + c.stats.attempts, 0);
  const conflicts = claimers.reduce((n, c) => n + c.stats.conflicts, 0);
  assert.ok(conflicts / attempts <= most, `409s per claim: ${conflicts} of ${attempts}`);
}

const claimer = (http: CouchHttp, i: number) => new Claimer({ http, workerId: `jumper-${i}`, hostname: hostname(), leaseMs: 300_000, window: 32, reclaimExpired: false });

test('claimers jump by key into the oldest second of the pool: spread out, never with skip', async () => {
  // numbered ids (as from PiCaS or a JSON file), pushed over two seconds
  const created = Math.floor(Date.now() / 1000) - 60;
  const tokens = Array.from({ length: 1000 }, (_, i) => ({ ...newToken(`jump_${String(i).padStart(4, '0')}`, 'true'), created: created + (i < 600 ? 0 : 1) }));
  await pushTokens(couch, tokens);
  const { http, queries } = recording(couch.http);
  const claimers = Array.from({ length: 24 }, (_, i) => claimer(http, i));
  const rounds = await Promise.all(claimers.map((c) => c.claim({ max: 1 })));
  const won = rounds.flatMap((r) => r.won.map((w) => w.doc._id));
  assert.ok(won.length >= 20, `most first claims won: ${won.length} of 24`);
  assert.equal(new Set(won).size, won.length, 'no token won twice');
  assert.ok(queries.every((q) => q.skip === undefined), 'no read uses skip');
  assert.ok(queries.some((q) => typeof q.startkey_docid === 'string' && Array.isArray(q.startkey)), 'windows are read from a key');
  assert.ok(claimers.every((c) => c.stats.spreadReads > 0), 'every claimer jumped');
  const numbers = won.map((id) => Number(id.slice(5)));
  // a uniform jump into the first second's 600 tokens: the head window (32 rows) would hold every claim
  assert.ok(numbers.filter((n) => n >= 100).length >= won.length / 2, `claims spread over the pool: ${numbers.sort((a, b) => a - b).join(' ')}`);
  assert.ok(Math.max(...numbers) - Math.min(...numbers) >= 200, `claims spread over the pool: ${numbers.join(' ')}`);

  // then drained by the same claimers, with the real completion: every token won once, few lost claims
  for (const r of rounds) for (const w of r.won) await complete(w.doc);
  const seen = new Set(won);
  await drain(claimers, seen);
  assert.equal(seen.size, 1000);
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 1000, error: 0 });
  assertFewConflicts(claimers, 0.4);
  assert.ok(queries.every((q) => q.skip === undefined), 'no read uses skip');
});

test('competing claimers spread over the next seconds of the pool too, not only the oldest', async () => {
  // 1,000 numbered tokens pushed over four seconds
  const created = Math.floor(Date.now() / 1000) - 30;
  const second = (i: number) => Math.floor(i / 250);
  const tokens = Array.from({ length: 1000 }, (_, i) => ({ ...newToken(`runs_${String(i).padStart(4, '0')}`, 'true'), created: created + second(i) }));
  await pushTokens(couch, tokens);
  const left = [250, 250, 250, 250];
  // jumps into a later second while the first still has 50 tokens or more: a claimer that knows only the
  // oldest run jumps into it until the head window holds the rest of it (32 rows)
  let laterWhileFirstLeft = 0;
  const { http, queries } = recording(couch.http, (q) => {
    const key = q.startkey_docid !== undefined ? (q.startkey as unknown[] | undefined) : undefined;
    if (key && (key[1] as number) > created && left[0]! >= 50) laterWhileFirstLeft++;
  });
  const claimers = Array.from({ length: 24 }, (_, i) => claimer(http, 100 + i));
  const seen = new Set<string>();
  await drain(claimers, seen, (id) => left[second(Number(id.slice(5)))]!--);
  assert.equal(seen.size, 1000);
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 2000, error: 0 });
  // the runs after the oldest are learned by key: the first row after a second's key
  assert.ok(queries.some((q) => Array.isArray(q.startkey) && q.startkey.length === 3), 'a look for the next run');
  const jumpedTo = new Set(queries.filter((q) => typeof q.startkey_docid === 'string').map((q) => (q.startkey as unknown[])[1]));
  assert.ok(jumpedTo.size >= 2, `jumps into ${jumpedTo.size} seconds`);
  // (how often is not fixed: a claimer that meets nobody narrows to the head)
  assert.ok(laterWhileFirstLeft >= 1, `jumps into a later second while the first still had 50 tokens or more: ${laterWhileFirstLeft}`);
  assertFewConflicts(claimers, 0.4);
  assert.ok(queries.every((q) => q.skip === undefined), 'no read uses skip');
});
