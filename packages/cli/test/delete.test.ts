import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finished, lockedBy, newToken } from '@picas/core';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { putDocs } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));
await runCli(['init'], { env: db.env });
const claim = { workerId: 'w1', claimId: 'w1:1', hostname: 'node1', leaseMs: 60_000 };
const now = Date.now() / 1000;
await putDocs(db.couch, [
  ...['a', 'b', 'c'].map((id) => newToken(`todo_${id}`, 'echo')),
  ...['a', 'b'].map((id) => finished(lockedBy(newToken(`done_${id}`, 'echo'), claim), { exitCode: 0, started: now - 1, finished: now })),
  { _id: 'not_a_token', type: 'note' },
]);

const cli = (...args: string[]) => runCli(args, { env: db.env });

async function remaining(): Promise<string[]> {
  const body = await db.couch.http.expectOk<{ rows: Array<{ id: string }> }>({ path: db.couch.http.dbPath('/_all_docs') });
  return body.rows.map((r) => r.id).filter((id) => !id.startsWith('_design/'));
}

test('delete needs IDS or --state, and --yes when stdin is not a terminal', async () => {
  const none = await cli('delete');
  assert.equal(none.exitCode, 1);
  assert.match(none.stderr, /say which tokens to delete: IDS or --state/);
  const noYes = await cli('delete', '--state', 'done');
  assert.equal(noYes.exitCode, 1);
  assert.match(noYes.stderr, /refusing to delete 2 tokens \(done\) without --yes \(stdin is not a terminal\); nothing was deleted/);
  const dry = await cli('delete', '--state', 'done', '--dry-run');
  assert.equal(dry.stdout, 'would delete done_a (done)\nwould delete done_b (done)\ndry run: would delete 2 tokens (done); nothing was deleted');
  assert.equal((await remaining()).length, 6);
});

test('delete --state S --yes deletes that state only; delete IDS deletes tokens only', async () => {
  const r = await cli('delete', '--state', 'done', '--yes');
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'deleted 2 tokens');
  assert.deepEqual(await remaining(), ['not_a_token', 'todo_a', 'todo_b', 'todo_c']);

  const byId = await cli('delete', 'todo_a', 'todo_b', 'not_a_token', 'missing', '--yes');
  assert.equal(byId.exitCode, 0, byId.stderr);
  assert.equal(byId.stdout, 'skipped not_a_token: not a token\nskipped missing: not found\ndeleted 2 tokens');
  assert.deepEqual(await remaining(), ['not_a_token', 'todo_c']);
  const status = JSON.parse((await cli('status', '--json')).stdout);
  assert.equal(status.total, 1);
  const nothing = await cli('delete', '--state', 'error', '--yes');
  assert.equal(nothing.stdout, 'nothing to delete');
});
