import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, logLines } from '@picas/testkit';
import { parseSlurmTime, TimeBudget } from '../src/time-budget.js';
import { monitorCounts, poolDatabase, pushTokens, tempDir, worker } from './helpers.js';

test('squeue end times are local time; N/A and garbage give nothing', () => {
  assert.equal(parseSlurmTime('2025-06-01T13:45:10\n'), new Date(2025, 5, 1, 13, 45, 10).getTime());
  for (const text of ['N/A', 'Unknown', 'NONE', '', '2025-06-01 13:45:10', 'INVALID']) assert.equal(parseSlurmTime(text), undefined, text);
});

test('a token fits when its expected runtime plus the margin is within what remains', () => {
  const now = 1_000_000;
  const budget = new TimeBudget({ endAtMs: now + 60_000, marginMs: 10_000, runtimeFactor: 1.5 });
  assert.equal(budget.remainingMs(now), 60_000);
  assert.ok(budget.fits({ expected_seconds: 50 }, now));
  assert.ok(!budget.fits({ expected_seconds: 51 }, now));
  assert.ok(budget.fits({}, now), 'nothing known yet: expected 0');
  budget.record(20_000);
  budget.record(40_000);
  assert.equal(budget.meanMs(), 30_000);
  assert.equal(budget.expectedMs({}), 45_000, 'runtime factor x mean of finished tokens');
  assert.ok(budget.fits({}, now));
  assert.ok(!budget.fits({}, now + 10_000));
  assert.equal(budget.expectedMs({ expected_seconds: 2 }), 2000, 'a declared runtime wins over the mean');
  const none = new TimeBudget({ marginMs: 10_000, runtimeFactor: 1.5 });
  assert.equal(none.remainingMs(), Infinity);
  assert.ok(none.fits({ expected_seconds: 1e9 }));
});

test('--time-budget 5s and tokens expecting 10 s: nothing is claimed, and the worker says why', async () => {
  const db = await poolDatabase(fileLabel(import.meta.url));
  await pushTokens(db.couch, [['long_a', 'true', { expected_seconds: 10 }], ['long_b', 'true', { expected_seconds: 10 }]]);
  const r = await worker(db, ['--time-budget', '5s', '--budget-margin', '1s']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0, failed 0, requeued 0, lost 0/);
  assert.ok(logLines(r.stderr).some((l) => /time budget: the next token does not fit/.test(l.msg) && l.expected_s === 10));
  assert.deepEqual(await monitorCounts(db.couch), { todo: 2, locked: 0, done: 0, error: 0 });

  // a token that fits is still run
  await pushTokens(db.couch, [['short_a', 'true', { expected_seconds: 1, priority: 5 }]]);
  const r2 = await worker(db, ['--time-budget', '5s', '--budget-margin', '1s']);
  assert.match(r2.stdout, /done 1,/);
});

test('inside Slurm the budget comes from the job end time that squeue reports', async () => {
  const db = await poolDatabase(fileLabel(import.meta.url));
  await pushTokens(db.couch, [['slurm_long', 'true', { expected_seconds: 120 }]]);
  const bin = tempDir();
  const end = new Date(Date.now() + 60_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const local = `${end.getFullYear()}-${pad(end.getMonth() + 1)}-${pad(end.getDate())}T${pad(end.getHours())}:${pad(end.getMinutes())}:${pad(end.getSeconds())}`;
  writeFileSync(join(bin, 'squeue'), `#!/bin/sh\n[ "$*" = "-h -j 777 -o %e" ] || exit 2\necho ${local}\n`, { mode: 0o755 });
  const r = await worker(db, ['--budget-margin', '0s'], { env: { SLURM_JOB_ID: '777', PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 0,/);
  const started = logLines(r.stderr).find((l) => l.msg === 'worker started');
  assert.ok(started && started.budget_s > 30 && started.budget_s <= 60, `budget from squeue: ${started?.budget_s}`);
});
