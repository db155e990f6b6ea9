import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { fileLabel } from '@picas/testkit';
import { poolDatabase, worker } from './helpers.js';

const db = await poolDatabase(fileLabel(import.meta.url));

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a pilot that never reached CouchDB gives up after 30 s (not --retry-for\'s 5 minutes), saying where it tries and how long is left', async () => {
  const port = await closedPort();
  const started = Date.now();
  const r = await worker(db, ['--url', `http://127.0.0.1:${port}`], { timeout: 60_000 });
  const tookS = (Date.now() - started) / 1000;
  assert.equal(r.exitCode, 2, r.stderr);
  assert.ok(tookS < 35, `gave up after ${tookS}s`);
  assert.ok(tookS > 25, `retried for about 30s, not ${tookS}s`);
  const retries = r.stderr.split('\n').filter((l) => l.includes(`CouchDB unavailable, retrying`) && l.includes('giving up in') && l.includes(`http://127.0.0.1:${port}`));
  assert.ok(retries.length >= 3, `each retry names the URL and the time left:\n${r.stderr.slice(-2000)}`);
  assert.match(r.stderr, new RegExp(`picas-worker: cannot reach CouchDB at http://127\\.0\\.0\\.1:${port}.*gave up after 3\\ds \\(never connected`));
});
