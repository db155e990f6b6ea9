/**
 * reset, retry, delete and list on more tokens than one page (PICAS_PAGE_SIZE=40 here): paged through
 * their views by position and written a page at a time with `_bulk_docs`, a concurrent change answering
 * a conflict that is reported, never overwritten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finished, lockedBy, newToken, type TokenDoc } from '@picas/core';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { getDoc, putDocs } from './fixtures.js';

const PAGE = 40;
const db = await freshDatabase(fileLabel(import.meta.url));
await runCli(['init'], { env: db.env });
const nowMs = Date.now();
const pad = (i: number) => String(i).padStart(3, '0');
// every lease ended in the same second: one view key for all of them (paging by key and document id)
const expired = (id: string) => lockedBy(newToken(id, `run ${id}`), { workerId: 'w1', claimId: `w1:${id}`, hostname: 'node1', leaseMs: 300_000, now: nowMs - 600_000 });
const failed = (id: string, scrub: number) => ({ ...finished(lockedBy(newToken(id, 'x'), { workerId: 'w1', claimId: `w1:${id}`, hostname: 'node1', leaseMs: 60_000 }), { exitCode: 2, started: nowMs / 1000 - 2, finished: nowMs / 1000 - 1 }), scrub_count: scrub });
const succeeded = (id: string) => finished(lockedBy(newToken(id, 'x'), { workerId: 'w1', claimId: `w1:${id}`, hostname: 'node1', leaseMs: 60_000 }), { exitCode: 0, started: nowMs / 1000 - 2, finished: nowMs / 1000 - 1 });

const LOCKED = 210;
const ERRORS = 130;
const DONE = 170;
const TODO = 95;
await putDocs(db.couch, [
  ...Array.from({ length: LOCKED }, (_, i) => expired(`lk_${pad(i)}`)),
  ...Array.from({ length: ERRORS }, (_, i) => failed(`er_${pad(i)}`, i % 10 === 0 ? 5 : 0)),
  ...Array.from({ length: DONE }, (_, i) => succeeded(`dn_${pad(i)}`)),
  ...Array.from({ length: TODO }, (_, i) => newToken(`td_${pad(i)}`, `echo ${i}`)),
]);

const env = { ...db.env, PICAS_PAGE_SIZE: String(PAGE) };
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { env: { ...env, ...extra } });

test('reset --expired across pages; a token changed meanwhile is reported and left as it is', async () => {
  // while each page waits between its read and its write, this token keeps changing (its worker writes progress)
  const raced = `lk_${pad(PAGE + 5)}`;
  let running = true;
  let writes = 0;
  const racer = (async () => {
    while (running) {
      const doc = await getDoc<TokenDoc & { progress?: number }>(db.couch, raced);
      const res = await db.couch.http.request({ method: 'PUT', path: db.couch.http.docPath(raced), body: { ...doc, progress: (doc.progress ?? 0) + 1 } });
      if (res.status === 201) writes++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const r = await cli(['reset', '--expired'], { PICAS_PAGE_PAUSE_MS: '300' });
  running = false;
  await racer;
  assert.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines.filter((l) => l.startsWith('reset lk_')).length, LOCKED - 1);
  assert.deepEqual(lines.filter((l) => l.startsWith('skipped')), [`skipped ${raced}: changed since it was read (conflict): left as it is`]);
  assert.equal(lines.at(-1), `reset ${LOCKED - 1} tokens to todo; skipped 1`);
  const kept = await getDoc<TokenDoc & { progress?: number }>(db.couch, raced);
  assert.ok(kept.lock > 0 && kept.scrub_count === 0, 'the raced token is not overwritten');
  assert.equal(kept.progress, writes, "the worker's last write is kept");
  assert.equal((await getDoc(db.couch, `lk_${pad(LOCKED - 1)}`)).scrub_count, 1);
  // read afresh, it is reset
  const again = await cli(['reset', '--expired']);
  assert.equal(again.stdout, `reset ${raced}\nreset 1 token to todo`);
});

test('retry across pages honours --max-scrub; delete --state across pages, dry run first', async () => {
  const retried = await cli(['retry', '--max-scrub', '3']);
  assert.equal(retried.exitCode, 0, retried.stderr);
  const over = Math.ceil(ERRORS / 10);
  assert.equal(retried.stdout.split('\n').filter((l) => l.startsWith('retried er_')).length, ERRORS - over);
  assert.equal(retried.stdout.split('\n').at(-1), `retried ${ERRORS - over} tokens to todo; skipped ${over}`);

  const dry = await cli(['delete', '--state', 'done', '--dry-run']);
  assert.equal(dry.exitCode, 0, dry.stderr);
  const would = dry.stdout.split('\n');
  assert.equal(would.length, DONE + 1);
  assert.equal(new Set(would.slice(0, -1)).size, DONE);
  assert.equal(would.at(-1), `dry run: would delete ${DONE} tokens (done); nothing was deleted`);
  const refused = await cli(['delete', '--state', 'done']);
  assert.equal(refused.exitCode, 1);
  assert.match(refused.stderr, new RegExp(`refusing to delete ${DONE} tokens \\(done\\) without --yes`));

  const deleted = await cli(['delete', '--state', 'done', '--yes']);
  assert.equal(deleted.exitCode, 0, deleted.stderr);
  assert.equal(deleted.stdout, `deleted ${DONE} tokens`);
  const status = JSON.parse((await cli(['status', '--json'])).stdout);
  assert.deepEqual([status.todo, status.locked, status.done, status.error], [TODO + LOCKED + ERRORS - over, 0, 0, over]);
});

test('list streams across pages: JSON, table and --limit', async () => {
  const todo = TODO + LOCKED + Math.floor((ERRORS * 9) / 10);
  const json = await cli(['list', '--state', 'todo', '--json']);
  assert.equal(json.exitCode, 0, json.stderr);
  const docs = JSON.parse(json.stdout) as TokenDoc[];
  assert.equal(docs.length, todo);
  assert.equal(new Set(docs.map((d) => d._id)).size, todo);
  assert.deepEqual(docs.map((d) => d._id), docs.map((d) => d._id).sort());
  // one document per line: a reader can take them as they come
  assert.equal(json.stdout.split('\n').length, todo + 2);

  const table = await cli(['list']);
  assert.equal(table.stdout.split('\n').filter((l) => /^(td|lk|er)_\d+\s/.test(l)).length, todo + Math.ceil(ERRORS / 10));
  const limited = JSON.parse((await cli(['list', '--state', 'todo', '--limit', String(PAGE + 15), '--json'])).stdout) as TokenDoc[];
  assert.deepEqual(limited.map((d) => d._id), docs.slice(0, PAGE + 15).map((d) => d._id));
});
