// Larger tokens end to end with real picas-worker processes: --reserve-after keeps a stream of one-core
// tokens from starving a 4-cpu token, and a pool of 4-cpu tokens is claimed many per request.
// Orderings come from the start and end times each token records, never from durations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileLabel, logLines } from '@picas/testkit';
import { monitorCounts, poolDatabase, pushTokens, summaryOf, tempDir, worker } from './helpers.js';
import { readTokenRuns, recordingCommand } from './token-runs.js';

const db = await poolDatabase(fileLabel(import.meta.url));
const { couch } = db;

/**
 * 60 one-core tokens of 0.5 s (at least 7.5 s of work for 4 cpus) and one 4-cpu token that sorts after them
 * (a lower priority): a pilot with 4 cpus runs the small ones while any wait, unless the large one waited
 * longer than --reserve-after.
 */
async function streamWithOneLarge(prefix: string, file: string): Promise<void> {
  const tokens: Array<[string, unknown, Record<string, unknown>?]> = [];
  for (let i = 0; i < 60; i++) tokens.push([`${prefix}_one_${i}`, recordingCommand(file, 0.5), { priority: 1 }]);
  tokens.push([`${prefix}_four`, recordingCommand(file, 0.2), { resources: { cpus: 4, gpus: 0, mem: 0 } }]);
  await pushTokens(couch, tokens);
}

test('--reserve-after 2s: the pilot stops starting one-core tokens and the 4-cpu token runs before they are all done', async () => {
  const file = join(tempDir(), 'runs.txt');
  await streamWithOneLarge('r', file);
  const r = await worker(db, ['--cpus', '4', '--reserve-after', '2s'], { timeout: 180_000 });
  assert.equal(r.exitCode, 0, r.stderr.slice(-3000));
  const runs = readTokenRuns(file);
  assert.equal(runs.length, 61, 'every token ran once');
  const four = runs.find((x) => x.id === 'r_four')!;
  const small = runs.filter((x) => x.id !== 'r_four');
  assert.ok(small.some((x) => x.start >= four.end), 'one-core tokens were still waiting when the 4-cpu token had run');
  assert.ok(!small.some((x) => x.start < four.end && x.end > four.start), 'nothing ran beside the 4-cpu token');
  const reserved = logLines(r.stderr).find((l) => String(l.msg).startsWith('reserving room for r_four (4 cpu)'));
  assert.ok(reserved, `the pilot says it reserves room: ${logLines(r.stderr).map((l) => l.msg).join('\n')}`);
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 61, error: 0 });
});

test('without a short --reserve-after the same 4-cpu token runs after every one-core token has started', async () => {
  const file = join(tempDir(), 'runs.txt');
  await streamWithOneLarge('n', file);
  const r = await worker(db, ['--cpus', '4'], { timeout: 180_000 });
  assert.equal(r.exitCode, 0, r.stderr.slice(-3000));
  const runs = readTokenRuns(file);
  assert.equal(runs.length, 61);
  const four = runs.find((x) => x.id === 'n_four')!;
  assert.ok(runs.every((x) => x.start <= four.start), 'the 4-cpu token started last');
  assert.ok(!logLines(r.stderr).some((l) => String(l.msg).startsWith('reserving room')));
});

test('a pool of 4-cpu tokens on a 4-cpu pilot is claimed about two seconds of work per request, and run one after the other', async () => {
  const file = join(tempDir(), 'runs.txt');
  const tokens: Array<[string, unknown, Record<string, unknown>?]> = [];
  for (let i = 0; i < 12; i++) tokens.push([`q_four_${i}`, recordingCommand(file, 0.3), { resources: { cpus: 4, gpus: 0, mem: 0 } }]);
  await pushTokens(couch, tokens);
  const r = await worker(db, ['--cpus', '4'], { timeout: 120_000 });
  assert.equal(r.exitCode, 0, r.stderr.slice(-3000));
  const runs = readTokenRuns(file).sort((a, b) => a.start - b.start);
  assert.equal(runs.length, 12);
  for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.start >= runs[i - 1]!.end, `${runs[i]!.id} started after ${runs[i - 1]!.id} ended`);
  const claims = summaryOf(r.stderr).claims;
  assert.equal(claims.won, 12);
  // the first claim takes one (no runtime known yet), then about two seconds of the pilot's cores each (prefetch.ts)
  assert.ok(claims.writes <= 4, `12 tokens in ${claims.writes} claim writes`);
});
