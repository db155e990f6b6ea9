import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel } from '@picas/testkit';
import { monitorCounts, poolDatabase, pushTokens, summaryOf, tempDir, worker } from './helpers.js';

const TOKENS = 2000;
const WORKERS = 8;

test(`exactly once: ${WORKERS} worker processes drain ${TOKENS} tokens, each id is run once`, { timeout: 900_000 }, async (t) => {
  const db = await poolDatabase(fileLabel(import.meta.url));
  const dir = tempDir();
  const ledger = join(dir, 'ran.txt');
  await pushTokens(
    db.couch,
    Array.from({ length: TOKENS }, (_, i) => [`tok_${String(i).padStart(4, '0')}`, `echo "$PICAS_TOKEN_ID" >> '${ledger}'`, { priority: i % 3 }] as [string, string, Record<string, unknown>]),
  );
  // build the views once before the pilots start, as `picas init` + `picas push` leave them
  await monitorCounts(db.couch);
  const runs = await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(db, ['--worker-id', `pilot-${i}`])));
  for (const r of runs) assert.equal(r.exitCode, 0, r.stderr.slice(-2000));

  const ran = readFileSync(ledger, 'utf8').trim().split('\n');
  const seen = new Map<string, number>();
  for (const id of ran) seen.set(id, (seen.get(id) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no token ran twice');
  assert.equal(seen.size, TOKENS, 'every token ran');
  assert.deepEqual(await monitorCounts(db.couch), { todo: 0, locked: 0, done: TOKENS, error: 0 });

  const summaries = runs.map((r) => summaryOf(r.stderr));
  assert.equal(summaries.reduce((n, s) => n + s.done, 0), TOKENS, 'the summaries add up');
  assert.equal(summaries.reduce((n, s) => n + s.lost, 0), 0);
  assert.ok(summaries.filter((s) => s.done > 0).length >= 2, 'the work was shared between pilots');
  const total = (key: string) => summaries.reduce((n, s) => n + (s.claims[key] ?? 0), 0);
  const requests = summaries.reduce((n, s) => n + s.http_requests, 0);
  t.diagnostic(`claims: ${total('attempts')} PUTs, ${total('conflicts')} lost (409), ${total('staleRows')} stale rows skipped, ${total('viewReads')} view reads; ${(requests / TOKENS).toFixed(2)} HTTP requests per token`);
});
