/**
 * A function's token keeps its lease while the function runs, as a command's does: with a 1 s lease and work
 * of 2.5 s, a second pilot that reclaims expired leases never takes a running token. --token-timeout aborts
 * the function and marks its token error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileLabel } from '@picas/testkit';
import { connect, runPilot, type Token } from '../src/index.js';
import { initPool, readDoc } from './pool-setup.js';

const label = fileLabel(import.meta.url);

test('the lease is renewed while the function runs: a second pilot never takes a running token', { timeout: 120_000 }, async () => {
  const { db, connection } = await initPool(`${label}-lease`);
  const pool = connect(connection);
  try {
    await pool.push(Array.from({ length: 4 }, (_, i) => ({ id: `slow${i}`, input: { i } })));
    const runs = new Map<string, number>();
    const work = async (token: Token) => {
      runs.set(token._id, (runs.get(token._id) ?? 0) + 1);
      await sleep(2500);
      return { ok: true };
    };
    const [a, b] = await Promise.all([runPilot({ pool, work, slots: 2, lease: 1, prefetch: 1 }), runPilot({ pool, work, slots: 2, lease: 1, prefetch: 1 })]);
    assert.deepEqual([...runs.values()], [1, 1, 1, 1], `each token ran once: ${JSON.stringify([...runs])}`);
    assert.equal(a.done + b.done, 4);
    assert.equal(a.lost + b.lost, 0);
    for (let i = 0; i < 4; i++) assert.equal((await readDoc(db, `slow${i}`)).attempts, 1);
  } finally {
    await pool.close();
  }
});

test('tokenTimeout aborts the function: its token is marked error with the reason', async () => {
  const { db, connection } = await initPool(`${label}-timeout`);
  const pool = connect(connection);
  try {
    await pool.push([{ id: 'stuck', input: 'x' }]);
    const summary = await runPilot({
      pool,
      tokenTimeout: '300ms',
      work: async (_token, ctx) => {
        await once(ctx.signal, 'abort');
        throw ctx.signal.reason;
      },
    });
    assert.equal(summary.failed, 1);
    const stuck = await readDoc(db, 'stuck');
    assert.equal(stuck.exit_code, 124);
    assert.equal(stuck.error.at(-1).message, 'timed out after 0.3s (--token-timeout)');
  } finally {
    await pool.close();
  }
});
