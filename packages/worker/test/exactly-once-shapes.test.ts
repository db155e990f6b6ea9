// Exactly once with mixed shapes: pilots that pack 1-cpu, 2-cpu and 1-gpu tokens side by side still run
// each token once, leave none behind, and never run more than they have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel } from '@picas/testkit';
import { monitorCounts, poolDatabase, pushTokens, summaryOf, tempDir, worker } from './helpers.js';

const PILOTS = 6;

test(`exactly once with mixed shapes: ${PILOTS} pilots of 2 cpus and 1 gpu drain 1-cpu, 2-cpu and 1-gpu tokens`, { timeout: 900_000 }, async () => {
  const db = await poolDatabase(fileLabel(import.meta.url));
  const dir = tempDir();
  const ledger = join(dir, 'ran.txt');
  const shapes: Array<[string, number, Record<string, unknown>]> = [
    ['one', 400, {}],
    ['two', 80, { resources: { cpus: 2, gpus: 0, mem: 0 } }],
    ['gpu', 40, { resources: { cpus: 1, gpus: 1, mem: 0 } }],
  ];
  const tokens = shapes.flatMap(([name, n, fields]) =>
    Array.from({ length: n }, (_, i) => [`${name}_${i}`, `echo "$PICAS_TOKEN_ID $PICAS_CPUS [$CUDA_VISIBLE_DEVICES]" >> '${ledger}'`, { ...fields, priority: i % 3 }] as [string, string, Record<string, unknown>]),
  );
  await pushTokens(db.couch, tokens);
  await monitorCounts(db.couch);
  const runs = await Promise.all(Array.from({ length: PILOTS }, (_, i) => worker(db, ['--worker-id', `shape-${i}`, '--cpus', '2', '--gpus', '1'])));
  for (const r of runs) assert.equal(r.exitCode, 0, r.stderr.slice(-2000));

  const seen = new Map<string, number>();
  for (const line of readFileSync(ledger, 'utf8').trim().split('\n')) {
    const [id, cpus, gpus] = line.split(' ');
    seen.set(id!, (seen.get(id!) ?? 0) + 1);
    assert.equal(Number(cpus), id!.startsWith('two') ? 2 : 1, `${id}: PICAS_CPUS`);
    assert.equal(gpus, id!.startsWith('gpu') ? '[0]' : '[]', `${id}: CUDA_VISIBLE_DEVICES`);
  }
  assert.deepEqual([...seen].filter(([, n]) => n > 1), [], 'no token ran twice');
  assert.equal(seen.size, tokens.length, 'every token ran');
  assert.deepEqual(await monitorCounts(db.couch), { todo: 0, locked: 0, done: tokens.length, error: 0 });
  const summaries = runs.map((r) => summaryOf(r.stderr));
  assert.equal(summaries.reduce((n, s) => n + s.done, 0), tokens.length, 'the summaries add up');
  assert.equal(summaries.reduce((n, s) => n + s.lost, 0), 0);
});
