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
  assert.match(none.stderr, /say which tokens to delete: IDS, --state todo\|locked\|done\|error, or --prefix PREFIX/);
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
  // the id that names no token: the others are deleted, and the exit code is not found's
  assert.equal(byId.exitCode, 4, byId.stderr);
  assert.equal(byId.stdout, 'skipped not_a_token: not a token\nskipped missing: not found\ndeleted 2 tokens');
  assert.equal(byId.stderr.trim(), `picas: token 'missing' not found in database '${db.config.db}'`);
  assert.deepEqual(await remaining(), ['not_a_token', 'todo_c']);
  const status = JSON.parse((await cli('status', '--json')).stdout);
  assert.equal(status.total, 1);
  const nothing = await cli('delete', '--state', 'error', '--yes');
  assert.equal(nothing.stdout, 'nothing to delete');
});

test('delete --prefix P: the tokens whose id starts with P, after the same question; --yes skips it', async () => {
  await putDocs(db.couch, [newToken('run7_a', 'echo'), newToken('run7_b', 'echo'), newToken('run70_c', 'echo'), newToken('run8_a', 'echo'), { _id: 'run7_note', type: 'note' }]);
  const noYes = await cli('delete', '--prefix', 'run7_');
  assert.equal(noYes.exitCode, 1);
  assert.match(noYes.stderr, /refusing to delete 2 tokens with ids starting run7_ without --yes \(stdin is not a terminal\); nothing was deleted/);
  const dry = await cli('delete', '--prefix', 'run7_', '--dry-run');
  assert.equal(dry.stdout, 'would delete run7_a (todo)\nwould delete run7_b (todo)\ndry run: would delete 2 tokens with ids starting run7_; nothing was deleted');
  const r = await cli('delete', '--prefix', 'run7_', '--yes');
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'deleted 2 tokens');
  const left = await remaining();
  assert.ok(left.includes('run70_c') && left.includes('run8_a') && left.includes('run7_note'), 'other prefixes and non-tokens stay');
  assert.ok(!left.includes('run7_a') && !left.includes('run7_b'));
  const none = await cli('delete', '--prefix', 'zzz', '--yes');
  assert.equal(none.exitCode, 0, none.stderr);
  assert.equal(none.stdout, 'nothing to delete');
  const both = await cli('delete', 'run8_a', '--prefix', 'run8', '--yes');
  assert.equal(both.exitCode, 1);
  assert.match(both.stderr, /give either IDS or --prefix, not both/);
});

test('delete --prefix pages through _all_docs: more tokens than a page', async () => {
  await putDocs(db.couch, Array.from({ length: 25 }, (_, i) => newToken(`page_${String(i).padStart(2, '0')}`, 'echo')));
  const r = await runCli(['delete', '--prefix', 'page_', '--yes'], { env: { ...db.env, PICAS_PAGE_SIZE: '7' } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'deleted 25 tokens');
  assert.equal((await remaining()).filter((id) => id.startsWith('page_')).length, 0);
});
