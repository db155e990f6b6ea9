// Tokens that say what they need, packed into a pilot's cores and GPUs, end to end with real picas-worker
// processes: never more cores than the pilot has, never a GPU shared, a token too large for it left todo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileLabel, logLines } from '@picas/testkit';
import { getToken, monitorCounts, poolDatabase, pushTokens, tempDir, worker } from './helpers.js';
import { readTokenRuns, recordingCommand } from './token-runs.js';

const db = await poolDatabase(fileLabel(import.meta.url));
const { couch } = db;

test('a pilot with 4 cpus and GPUs 0,1 packs a mix: never over 4 cpus, no GPU shared; an 8-cpu token is left todo and named', async () => {
  const dir = tempDir();
  const file = join(dir, 'runs.txt');
  const tokens: Array<[string, unknown, Record<string, unknown>?]> = [];
  for (let i = 0; i < 6; i++) tokens.push([`one_${i}`, recordingCommand(file, 0.4)]);
  for (let i = 0; i < 3; i++) tokens.push([`two_${i}`, recordingCommand(file, 0.5), { resources: { cpus: 2, gpus: 0, mem: 0 } }]);
  tokens.push(['four_0', recordingCommand(file, 0.5), { resources: { cpus: 4, gpus: 0, mem: 0 } }]);
  for (let i = 0; i < 3; i++) tokens.push([`gpu_${i}`, recordingCommand(file, 0.6), { resources: { cpus: 1, gpus: 1, mem: 0 } }]);
  tokens.push(['eight_0', recordingCommand(file, 0.1), { resources: { cpus: 8, gpus: 0, mem: 0 } }]);
  await pushTokens(couch, tokens);

  const r = await worker(db, ['--cpus', '4', '--gpus', '0,1', '--mem', '8G'], { timeout: 120_000 });
  assert.equal(r.exitCode, 0, r.stderr.slice(-3000));
  const lines = logLines(r.stderr);
  const found = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('resources: '));
  assert.ok(found, 'the pilot says what it has');
  assert.match(found.msg, /^resources: 4 cpus \(--cpus\), GPUs 0,1 \(--gpus\), 8G memory \(--mem\)$/);
  assert.ok(
    lines.some((l) => /1 token \(8 cpu\) left todo: need 8 cpus; this pilot has 4/.test(String(l.msg))),
    `the 8-cpu token is named: ${lines.map((l) => l.msg).join('\n')}`,
  );

  const runs = readTokenRuns(file);
  assert.equal(runs.length, 13, 'every token the pilot can run ran once');
  assert.ok(runs.some((x) => x.id === 'four_0'), 'the 4-cpu token ran');
  for (const x of runs) {
    const needs = x.id.startsWith('two') ? 2 : x.id.startsWith('four') ? 4 : 1;
    assert.equal(x.cpus, needs, `${x.id}: PICAS_CPUS`);
    assert.equal(x.omp, needs, `${x.id}: OMP_NUM_THREADS`);
    assert.equal(x.gpus.length, x.id.startsWith('gpu') ? 1 : 0, `${x.id}: CUDA_VISIBLE_DEVICES`);
  }
  // at every start, what runs then (that start included) needs at most 4 cpus and shares no GPU
  let peak = 0;
  for (const at of runs) {
    const running = runs.filter((x) => x.start <= at.start && x.end > at.start);
    const cpus = running.reduce((n, x) => n + x.cpus, 0);
    peak = Math.max(peak, cpus);
    assert.ok(cpus <= 4, `at ${at.id}'s start ${running.map((x) => x.id).join(', ')} need ${cpus} cpus`);
    const gpus = running.flatMap((x) => x.gpus);
    assert.equal(new Set(gpus).size, gpus.length, `no GPU shared at ${at.id}'s start: ${gpus.join(',')}`);
  }
  assert.ok(peak >= 3, `tokens ran side by side (peak ${peak} cpus)`);

  const eight = await getToken(couch, 'eight_0');
  assert.equal(eight.lock, 0, 'the 8-cpu token stays todo');
  assert.deepEqual(await monitorCounts(couch), { todo: 1, locked: 0, done: 13, error: 0 });
});

test('--slots N alone means N tokens of one core; a pilot with no options runs one at a time', async () => {
  const dir = tempDir();
  const file = join(dir, 'runs.txt');
  const tokens: Array<[string, unknown, Record<string, unknown>?]> = [];
  for (let i = 0; i < 4; i++) tokens.push([`s_${i}`, recordingCommand(file, 0.3)]);
  await pushTokens(couch, tokens);
  const r = await worker(db, ['--slots', '2']);
  assert.equal(r.exitCode, 0, r.stderr.slice(-3000));
  const found = logLines(r.stderr).find((l) => String(l.msg).startsWith('resources: '));
  assert.match(String(found?.msg), /^resources: 2 cpus \(--slots \(tokens of one core\)\)/);
  const runs = readTokenRuns(file);
  assert.equal(runs.length, 4);
  for (const at of runs) assert.ok(runs.filter((x) => x.start <= at.start && x.end > at.start).length <= 2);
});

test('--pin binds each token to its own cores with taskset', async () => {
  await pushTokens(couch, [
    ['pin_one', 'taskset -pc $$ | sed "s/.*: //"; sleep 0.3'],
    ['pin_two', 'taskset -pc $$ | sed "s/.*: //"', { resources: { cpus: 2, gpus: 0, mem: 0 } }],
  ]);
  const r = await worker(db, ['--cpus', '2', '--pin']);
  assert.equal(r.exitCode, 0, r.stderr.slice(-3000));
  const out = async (id: string) => {
    const doc = await getToken(couch, id, { attachments: true });
    return Buffer.from(doc._attachments![`logs_${id}.out`]!.data!, 'base64').toString().trim();
  };
  assert.match(await out('pin_one'), /^[01]$/, 'one core');
  assert.match(await out('pin_two'), /^(0,1|0-1)$/, 'its two cores');
});

test('what a pilot has is found once, before it connects: --cpus 16 gets a connection pool for 16 tokens at once', async () => {
  const empty = await poolDatabase(`${fileLabel(import.meta.url)}-setup`);
  const started = async (args: string[]) => {
    const r = await worker(empty, args);
    assert.equal(r.exitCode, 0, r.stderr.slice(-3000));
    const lines = logLines(r.stderr);
    assert.equal(lines.filter((l) => String(l.msg).startsWith('resources: ')).length, 1, 'detected once');
    const line = lines.find((l) => l.msg === 'worker started');
    assert.ok(line, r.stderr.slice(-3000));
    return line;
  };
  const sixteen = await started(['--cpus', '16']);
  assert.deepEqual([sixteen.slots, sixteen.connections], [16, 34], 'two connections per token, and two more');
  const one = await started([]);
  assert.deepEqual([one.slots, one.connections], [1, 4]);
});
