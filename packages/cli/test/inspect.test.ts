import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finished, lockedBy, newToken } from '@picas/core';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { putDocs } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));
await runCli(['init'], { env: db.env });
const claim = { workerId: 'w1', claimId: 'w1:1', hostname: 'node7', leaseMs: 60_000 };
const now = Date.now() / 1000;
const stdoutBytes = Buffer.concat([Buffer.from('line one\nline two\n'), Buffer.from([0xff, 0xfe, 0x00, 0x41]), Buffer.from('\n')]);
const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
await putDocs(db.couch, [
  ...Array.from({ length: 7 }, (_, i) => newToken(`todo_${i}`, `echo todo ${i}`)),
  lockedBy(newToken('locked_1', 'sleep 100'), claim),
  {
    ...finished(lockedBy(newToken('done_1', 'echo done'), claim), { exitCode: 0, started: now - 2, finished: now - 1 }),
    _attachments: {
      'logs_done_1.out': { content_type: 'text/plain', data: b64(stdoutBytes) },
      'logs_done_1.err': { content_type: 'text/plain', data: b64('a warning\n') },
    },
  },
  finished(lockedBy(newToken('error_1', { cmd: 'exit 3', note: 'an object input' }), claim), { exitCode: 3, started: now - 2, finished: now - 1 }),
]);

test('list shows tokens by state, pages through the view, and prints JSON', async () => {
  const all = await runCli(['list'], { env: db.env });
  assert.equal(all.exitCode, 0, all.stderr);
  const lines = all.stdout.trim().split('\n');
  assert.match(lines[0]!, /^ID\s+STATE\s+EXIT\s+SCRUB\s+HOST\s+INPUT$/);
  assert.equal(lines.length, 1 + 10);
  assert.match(all.stdout, /^locked_1\s+locked\s+-\s+0\s+node7\s+sleep 100$/m);
  assert.match(all.stdout, /^error_1\s+error\s+3\s+0\s+node7\s+\{"cmd":"exit 3","note":"an object input"\}$/m);
  assert.match(all.stdout, /^done_1\s+done\s+0\s+0\s+node7\s+echo done$/m, 'the exit-code column');

  const todo = await runCli(['list', '--state', 'todo', '--json'], { env: db.env });
  const docs = JSON.parse(todo.stdout) as Array<{ _id: string }>;
  assert.deepEqual(docs.map((d) => d._id), Array.from({ length: 7 }, (_, i) => `todo_${i}`));
  const limited = JSON.parse((await runCli(['list', '--state', 'todo', '--limit', '3', '--json'], { env: db.env })).stdout);
  assert.equal(limited.length, 3);
  const none = await runCli(['list', '--state', 'error', '--json', '--limit', '1'], { env: db.env });
  assert.equal(JSON.parse(none.stdout).length, 1);

  const bad = await runCli(['list', '--state', 'running'], { env: db.env });
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stderr, /Allowed choices are todo, locked, done, error/);
});

test('show prints the document without attachment bodies', async () => {
  const r = await runCli(['show', 'done_1'], { env: db.env });
  assert.equal(r.exitCode, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc._id, 'done_1');
  assert.equal(doc.exit_code, 0);
  assert.equal(doc._attachments['logs_done_1.out'].stub, true);
  assert.equal(doc._attachments['logs_done_1.out'].data, undefined);
  const missing = await runCli(['show', 'nope'], { env: db.env });
  assert.equal(missing.exitCode, 4);
  assert.match(missing.stderr, /token 'nope' not found/);
});

test('logs prints the stdout log byte for byte, or the stderr log', async () => {
  const out = await runCli(['logs', 'done_1'], { env: db.env, encoding: 'buffer', stripFinalNewline: false });
  assert.equal(out.exitCode, 0);
  assert.deepEqual(Buffer.from(out.stdout as unknown as Uint8Array), stdoutBytes);
  const err = await runCli(['logs', 'done_1', '--stderr'], { env: db.env, stripFinalNewline: false });
  assert.equal(err.stdout, 'a warning\n');
  const none = await runCli(['logs', 'todo_1'], { env: db.env });
  assert.equal(none.exitCode, 4);
  assert.match(none.stderr, /token 'todo_1' has no log logs_todo_1\.out/);
});

test('listing pages through views with small pages, also over repeated keys', async () => {
  const { listTokens, pageView } = await import('@picas/core/ops/list-tokens');
  const ids: string[] = [];
  for await (const { doc } of listTokens(db.couch, { pageSize: 3 })) ids.push(doc._id);
  assert.equal(ids.length, 10);
  assert.equal(new Set(ids).size, 10);
  assert.deepEqual(ids.slice(0, 7), Array.from({ length: 7 }, (_, i) => `todo_${i}`));

  // five more locked tokens whose leases end in the same second: the same view key
  const sameMoment = { ...claim, now: Date.now() };
  await putDocs(db.couch, Array.from({ length: 5 }, (_, i) => lockedBy(newToken(`same_lease_${i}`, 'x'), sameMoment)));
  const leased: string[] = [];
  for await (const row of pageView(db.couch, 'picas', 'locked_by_lease', { pageSize: 2 })) leased.push(row.id);
  assert.equal(leased.length, 6);
  assert.equal(new Set(leased).size, 6);
  const limited: string[] = [];
  for await (const row of pageView(db.couch, 'picas', 'locked_by_lease', { pageSize: 2, limit: 3 })) limited.push(row.id);
  assert.equal(limited.length, 3);
  const { deleteTokens, findTokensToDelete } = await import('@picas/core/ops/delete-tokens');
  const { targets } = await findTokensToDelete(db.couch, { ids: leased.filter((id) => id.startsWith('same_lease_')) });
  assert.equal((await deleteTokens(db.couch, targets)).deleted.length, 5);
});

test('picas list | head: when the reader goes away, list stops quietly with exit 0', async () => {
  const piped = await freshDatabase(fileLabel(import.meta.url) + '_pipe');
  await runCli(['init'], { env: piped.env });
  await putDocs(piped.couch, Array.from({ length: 1500 }, (_, i) => newToken(`many_${String(i).padStart(4, '0')}`, `echo ${i}`)));
  for (const args of [['list'], ['list', '--json']]) {
    const child = runCli(args, { env: piped.env, buffer: { stdout: false } });
    child.stdout!.once('data', () => child.stdout!.destroy());
    const r = await child;
    assert.equal(r.exitCode, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /EPIPE|Error/);
  }
});
