/**
 * `runPilot()` against the test server: a pilot in this process whose work is a function drains the pool
 * (results as `output`, ctx.log in the log attachment, a throw marks error with its message); two such
 * pilots and a `picas-worker` process share a pool and run every token exactly once; aborting its signal
 * puts the running token back and leaves no handle open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileLabel, logLines, runWorker, scratchDir } from '@picas/testkit';
import { connect, runPilot, type Token } from '../src/index.js';
import { attachmentText, initPool, readDoc } from './pool-setup.js';

const label = fileLabel(import.meta.url);

test('runPilot drains the pool with a function: its result is the output, ctx.log the log attachment, a throw marks error with its message', async () => {
  const { db, connection } = await initPool(`${label}-drain`);
  const pool = connect(connection);
  try {
    await pool.push(Array.from({ length: 12 }, (_, n) => ({ id: `n${n}`, input: { n }, resources: { cpus: n % 2 ? 1 : 2 } })));
    const seen: Array<{ id: string; cpus: number; cores: number }> = [];
    const summary = await runPilot({
      pool,
      cpus: 4,
      work: async (token: Token, ctx) => {
        const { n } = token.input as { n: number };
        seen.push({ id: ctx.token._id, cpus: ctx.resources.cpus, cores: ctx.resources.cores.length });
        ctx.log('squaring', n, { on: ctx.workerId });
        await sleep(5);
        if (n === 7) throw new Error('seven is unlucky');
        return { square: n * n };
      },
    });
    assert.equal(summary.done, 11);
    assert.equal(summary.failed, 1);
    assert.equal(summary.lost, 0);
    assert.equal(summary.stopReason, 'no tokens left');
    assert.ok(seen.every((s) => s.cpus === s.cores && s.cpus === (Number(s.id.slice(1)) % 2 ? 1 : 2)), 'each token got the cores it needs');

    const three = await readDoc(db, 'n3');
    assert.deepEqual(three.output, { square: 9 });
    assert.equal(three.exit_code, 0);
    assert.ok(three.done > 0);
    assert.equal(three.worker_id, summary.workerId);
    assert.equal(await attachmentText(db, 'n3', 'logs_n3.out'), `squaring 3 { on: '${summary.workerId}' }\n`);

    const seven = await readDoc(db, 'n7');
    assert.equal(seven.exit_code, 1);
    assert.equal(seven.error.at(-1).message, 'seven is unlucky');
    assert.match(await attachmentText(db, 'n7', 'logs_n7.err'), /Error: seven is unlucky\n\s+at /);

    const status = await pool.status();
    assert.deepEqual([status.todo, status.locked, status.done, status.error], [0, 0, 11, 1]);
  } finally {
    await pool.close();
  }
});

test('two runPilot pilots in this process and one picas-worker process share a pool: every token done exactly once', { timeout: 300_000 }, async () => {
  const { db, connection } = await initPool(`${label}-shared`);
  const ledger = join(scratchDir(), 'ran.txt');
  const TOKENS = 240;
  const pool = connect(connection);
  try {
    await pool.push(Array.from({ length: TOKENS }, (_, i) => ({ id: `s${String(i).padStart(3, '0')}`, input: `sleep 0.02; echo "$PICAS_TOKEN_ID" >> '${ledger}'` })));
    const work = async (token: Token) => {
      await sleep(20);
      appendFileSync(ledger, `${token._id}\n`);
      return { by: 'function' };
    };
    const processPilot = runWorker(['--slots', '2', '--log-format', 'json'], { env: db.env });
    const [a, b, p] = await Promise.all([runPilot({ pool, work, slots: 2 }), runPilot({ connection, work, slots: 2 }), processPilot]);
    assert.equal(p.exitCode, 0, p.stderr.slice(-2000));
    const processSummary = logLines(p.stderr).find((l) => l.summary === true)!;

    const ran = readFileSync(ledger, 'utf8').trim().split('\n');
    assert.equal(ran.length, TOKENS, 'no token ran twice');
    assert.equal(new Set(ran).size, TOKENS, 'every token ran');
    assert.equal(a.done + b.done + processSummary.done, TOKENS, 'the summaries add up');
    assert.equal(a.lost + b.lost + processSummary.lost, 0);
    assert.ok([a.done, b.done, processSummary.done].filter((n) => n > 0).length >= 2, `the work was shared: ${a.done}, ${b.done}, ${processSummary.done}`);
    const status = await pool.status();
    assert.deepEqual([status.todo, status.locked, status.done, status.error], [0, 0, TOKENS, 0]);
    const byFunction = await readDoc(db, 's000');
    assert.ok(byFunction.output?.by === 'function' || byFunction.worker_id === processSummary.worker);
  } finally {
    await pool.close();
  }
});

/** Handles of the kinds a pilot opens (sockets, timers, files), counted. */
function openHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

test('aborting the signal stops the pilot: the running token goes back to todo, runPilot resolves, no handle is left open', async () => {
  const { db, connection } = await initPool(`${label}-abort`);
  const pool = connect(connection);
  try {
    await pool.push([{ id: 'long', input: 'wait' }, { id: 'later', input: 'wait' }]);
  } finally {
    await pool.close();
  }
  await sleep(200);
  const before = openHandles();
  const controller = new AbortController();
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const pilot = runPilot({
    connection,
    maxTokens: 1,
    prefetch: 1,
    work: async (_token, ctx) => {
      started();
      await once(ctx.signal, 'abort');
      return { ignored: true };
    },
    signal: controller.signal,
  });
  await running;
  controller.abort(new Error('enough'));
  const summary = await pilot;
  assert.equal(summary.requeued, 1);
  assert.equal(summary.done, 0);
  assert.equal(summary.stopReason, 'aborted: enough');
  const long = await readDoc(db, 'long');
  assert.deepEqual([long.lock, long.done, long.output], [0, 0, {}]);

  // a function that ignores its signal is given up after killGrace: its token goes back all the same
  const stubborn = new AbortController();
  let begun!: () => void;
  const busy = new Promise<void>((resolve) => (begun = resolve));
  const late = runPilot({
    connection,
    killGrace: 0.5,
    work: () => {
      begun();
      return new Promise((resolve) => setTimeout(resolve, 3000).unref());
    },
    signal: stubborn.signal,
  });
  await busy;
  stubborn.abort();
  const s2 = await late;
  assert.equal(s2.requeued, 1, JSON.stringify(s2));

  await sleep(300);
  const after = openHandles();
  for (const [kind, n] of after) assert.ok(n <= (before.get(kind) ?? 0), `${kind}: ${n} open after, ${before.get(kind) ?? 0} before`);
});
