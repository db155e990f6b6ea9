/**
 * The local backend driven as an autoscaler would drive any PilotBackend: submit real picas-worker
 * processes against the test server, list them with their states, cancel one, then the rest. A cancelled
 * worker puts its running token back to todo; nothing is left running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBackend, pilotEnvironment, resolveWorkerCommand, type PilotBackend } from '@picas/launch';
import { processAlive, waitFor } from '@picas/testkit';
import { tokenPool, tokensByState } from './token-pool.js';

test('LocalBackend: submit 2, list them running, cancel one, then all; their tokens go back to todo', async () => {
  const db = await tokenPool(import.meta.url, [
    { id: 'long1', input: 'sleep 60' },
    { id: 'long2', input: 'sleep 60' },
  ]);
  const lines: string[] = [];
  const local = new LocalBackend({
    worker: resolveWorkerCommand(),
    pilot: pilotEnvironment(db.config, { lease: '1m' }),
    stopGraceMs: 20_000,
    out: (line) => lines.push(line),
    err: (line) => lines.push(line),
  });
  const backend: PilotBackend = local;
  const { jobIds, launch } = await local.submit({ count: 2 });
  try {
    assert.deepEqual(jobIds, ['w1', 'w2']);
    await waitFor(async () => (await tokensByState(db.couch)).locked.length === 2, { what: 'both tokens claimed' });
    const running = await backend.list();
    assert.deepEqual(running.map((j) => [j.jobId, j.state]), [['w1', 'running'], ['w2', 'running']]);

    assert.deepEqual((await backend.cancel({ jobIds: ['w1'] })).jobIds, ['w1']);
    const afterOne = await waitFor(async () => {
      const jobs = await backend.list({ all: true });
      return jobs.find((j) => j.jobId === 'w1')?.state === 'cancelled' ? jobs : undefined;
    }, { what: 'w1 cancelled' });
    assert.equal(afterOne.find((j) => j.jobId === 'w2')?.state, 'running');
    // only running (not final) pilots without `all`
    assert.deepEqual((await backend.list()).map((j) => j.jobId), ['w2']);

    assert.deepEqual((await backend.cancel({ jobIds: [] })).jobIds, ['w2']);
    const result = await launch.done;
    assert.equal(result.workers.length, 2);
    assert.deepEqual((await backend.list({ all: true })).map((j) => j.state), ['cancelled', 'cancelled']);
    const states = await tokensByState(db.couch);
    assert.deepEqual(states.todo.sort(), ['long1', 'long2'], lines.join('\n'));
    for (const pid of launch.pids) assert.ok(pid === undefined || !processAlive(pid), `worker ${pid} is gone`);
  } finally {
    launch.stop();
    await launch.done;
  }
});
