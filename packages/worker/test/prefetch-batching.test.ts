import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, waitFor } from '@picas/testkit';
import { getToken, monitorCounts, poolDatabase, pushTokens, putToken, summaryOf, tempDir, worker } from './helpers.js';

const db = await poolDatabase(fileLabel(import.meta.url));
const { couch } = db;

test('--prefetch with several slots claims in bulk and writes results that finish together in one request, exactly once', async () => {
  const log = join(tempDir(), 'executions.log');
  writeFileSync(log, '');
  const tokens: Array<[string, string]> = Array.from({ length: 120 }, (_, i) => [`bulk_${i}`, `echo "$PICAS_TOKEN_ID" >> ${log}; echo out-$PICAS_TOKEN_ID`]);
  await pushTokens(couch, tokens);
  const r = await worker(db, ['--prefetch', '8', '--slots', '8']);
  assert.equal(r.exitCode, 0, r.stderr);
  const ids = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.equal(ids.length, 120, 'every token ran once');
  assert.equal(new Set(ids).size, 120, 'no token ran twice');
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 120, error: 0 });
  const summary = summaryOf(r.stderr);
  assert.ok(summary.completions.batches > 0 && summary.completions.batched > 0, `results were written in batches: ${JSON.stringify(summary.completions)}`);
  assert.equal(summary.completions.batched + summary.completions.singles, 120);
  const one = await getToken(couch, 'bulk_7', { attachments: true });
  assert.equal(one.exit_code, 0);
  assert.equal(one.lease_until, 0);
  assert.equal(Buffer.from(one._attachments!['logs_bulk_7.out']!.data!, 'base64').toString(), 'out-bulk_7\n');
});

test('a token changed by someone else while it ran falls out of the batch and is merged, not lost', async () => {
  await pushTokens(couch, Array.from({ length: 4 }, (_, i): [string, string] => [`merge_${i}`, 'sleep 2; echo finished']));
  const run = worker(db, ['--prefetch', '4', '--slots', '4', '--lease', '1m']);
  const locked = await waitFor(async () => {
    const doc = await getToken(couch, 'merge_2');
    return doc.lock > 0 && doc.done == 0 ? doc : undefined;
  }, { what: 'merge_2 to be claimed' });
  await putToken(couch, { ...locked, note: 'added while running' });
  const r = await run;
  assert.equal(r.exitCode, 0, r.stderr);
  const merged = await getToken(couch, 'merge_2');
  assert.equal(merged.exit_code, 0, 'the result was saved');
  assert.equal(merged.note, 'added while running', 'the field added meanwhile was kept');
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 124, error: 0 });
  const summary = summaryOf(r.stderr);
  assert.ok(summary.completions.singles >= 1, `the changed token went through the single-document path: ${JSON.stringify(summary.completions)}`);
  assert.equal(summary.done, 4);
});

test('by default (--prefetch auto) short tokens are claimed and recorded many per request; --prefetch 1 is one PUT each way', async () => {
  const log = join(tempDir(), 'auto.log');
  writeFileSync(log, '');
  await pushTokens(couch, Array.from({ length: 200 }, (_, i): [string, string] => [`auto_${String(i).padStart(3, '0')}`, `echo "$PICAS_TOKEN_ID" >> ${log}`]));
  const auto = await worker(db, []);
  assert.equal(auto.exitCode, 0, auto.stderr);
  const a = summaryOf(auto.stderr);
  assert.equal(a.done, 200);
  // strict mode needs at least 2 per token (400 here); batching needs far fewer, how many fewer depends on how
  // fast `echo` runs on this machine (the batch size follows the measured runtimes)
  assert.ok(a.http_requests < 200 * 0.75, `fewer requests than tokens: ${a.http_requests} for 200`);
  assert.ok(a.completions.batched > 100, `results written in batches: ${JSON.stringify(a.completions)}`);
  assert.equal(a.claims.won, 200);

  await pushTokens(couch, Array.from({ length: 40 }, (_, i): [string, string] => [`strict_${i}`, `echo "$PICAS_TOKEN_ID" >> ${log}`]));
  const strict = await worker(db, ['--prefetch', '1']);
  assert.equal(strict.exitCode, 0, strict.stderr);
  const s = summaryOf(strict.stderr);
  assert.equal(s.done, 40);
  // one claim write per token, and a 409 for a view row that was stale (on the embedded server a view read
  // can answer from an index update that began before this worker's last claim; the row holds the token as it
  // was, so that race costs a 409 rather than being seen in an include_docs copy)
  assert.equal(s.claims.attempts - s.claims.conflicts, 40, `one claim write per token: ${JSON.stringify(s.claims)}`);
  assert.equal(s.claims.won, 40);
  assert.equal(s.completions, undefined, 'no batched completions');
  assert.ok(s.http_requests >= 80, `a claim PUT and a completion PUT per token: ${s.http_requests}`);

  const ids = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.equal(ids.length, 240);
  assert.equal(new Set(ids).size, 240, 'no token ran twice');
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 364, error: 0 });
});

test('pilots that contend spread their reads over the pool: exactly once, and few lost claims', async () => {
  const log = join(tempDir(), 'spread.log');
  writeFileSync(log, '');
  await pushTokens(couch, Array.from({ length: 600 }, (_, i): [string, string] => [`spread_${String(i).padStart(3, '0')}`, `echo "$PICAS_TOKEN_ID" >> ${log}`]));
  const before = (await monitorCounts(couch)).done;
  const runs = await Promise.all(Array.from({ length: 6 }, () => worker(db, [])));
  for (const r of runs) assert.equal(r.exitCode, 0, r.stderr);
  const ids = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.equal(ids.length, 600);
  assert.equal(new Set(ids).size, 600, 'no token ran twice');
  const summaries = runs.map((r) => summaryOf(r.stderr));
  assert.equal(summaries.reduce((n, s) => n + s.done, 0), 600);
  const conflicts = summaries.reduce((n, s) => n + s.claims.conflicts, 0);
  assert.ok(summaries.some((s) => s.claims.spreadReads > 0) || conflicts === 0, 'pilots that lost claims read at random offsets');
  assert.ok(conflicts / 600 <= 0.3, `lost claims per token: ${conflicts / 600}`);
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: before + 600, error: 0 });
});

test('spread reads never take a lower priority while a higher one is left', async () => {
  const log = join(tempDir(), 'priority.log');
  writeFileSync(log, '');
  await pushTokens(couch, [
    ...Array.from({ length: 150 }, (_, i): [string, string, Record<string, unknown>] => [`low_${String(i).padStart(3, '0')}`, `echo "$PICAS_TOKEN_ID" >> ${log}`, { priority: 0 }]),
    ...Array.from({ length: 40 }, (_, i): [string, string, Record<string, unknown>] => [`high_${String(i).padStart(3, '0')}`, `echo "$PICAS_TOKEN_ID" >> ${log}`, { priority: 7 }]),
  ]);
  const r = await worker(db, []);
  assert.equal(r.exitCode, 0, r.stderr);
  const order = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.equal(order.length, 190);
  assert.deepEqual(new Set(order.slice(0, 40).map((id) => id.split('_')[0])), new Set(['high']), 'all 40 high-priority tokens ran first');
});
