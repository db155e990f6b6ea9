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
