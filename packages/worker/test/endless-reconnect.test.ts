import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, logLines, waitFor } from '@picas/testkit';
import { getToken, poolDatabase, pushTokens, readPid, startProxy, tempDir, worker } from './helpers.js';

const label = fileLabel(import.meta.url);

test('--endless waits on _changes for new tokens (not on the poll interval), and stops on SIGTERM with exit 0', async (t) => {
  const db = await poolDatabase(label);
  const w = worker(db, ['--endless', '--poll-interval', '10m']);
  t.after(() => w.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 1500));
  await pushTokens(db.couch, [['late_1', 'echo late']]);
  await waitFor(async () => (await getToken(db.couch, 'late_1')).done > 0, { what: 'the late token to be done', timeoutMs: 15_000 });
  await pushTokens(db.couch, [['late_2', 'echo later']]);
  await waitFor(async () => (await getToken(db.couch, 'late_2')).done > 0, { what: 'the second late token to be done', timeoutMs: 15_000 });
  w.kill('SIGTERM');
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 2, failed 0, requeued 0, lost 0/);
});

test('CouchDB goes away while a token runs: heartbeats and the result are retried, nothing is lost', async (t) => {
  const db = await poolDatabase(label);
  const dir = tempDir();
  await pushTokens(db.couch, [
    ['outage_1', `echo $$ > '${dir}/shell.pid'; while [ ! -e '${dir}/go' ]; do sleep 0.1; done; echo survived`, { priority: 1 }],
    ['outage_2', 'echo after'],
  ]);
  const proxy = await startProxy(db.config.url);
  const w = worker(db, ['--lease', '6s'], { env: { PICAS_URL: proxy.url } });
  t.after(() => w.kill('SIGKILL'));
  await waitFor(() => readPid(join(dir, 'shell.pid')), { what: 'the token to start' });
  await proxy.pause();
  writeFileSync(join(dir, 'go'), '');
  // the token ends while the server is down; the worker keeps retrying its result
  await new Promise((r) => setTimeout(r, 2500));
  await proxy.resume();
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 2, failed 0, requeued 0, lost 0/);
  const tok = await getToken(db.couch, 'outage_1', { attachments: true });
  assert.equal(tok.exit_code, 0);
  assert.equal(Buffer.from(tok._attachments!['logs_outage_1.out']!.data!, 'base64').toString(), 'survived\n');
  assert.equal(tok.attempts, 1);
  assert.ok(logLines(r.stderr).some((l) => /CouchDB unavailable, retrying/.test(l.msg)), 'the retries are logged');
});
