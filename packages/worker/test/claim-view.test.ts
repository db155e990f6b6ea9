// The claim reads its candidates from todo_by_priority's values (the tokens themselves), and still works on a
// database whose view predates that (value null): then it reads them with include_docs, as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel } from '@picas/testkit';
import { CLAIM_DESIGN } from '@picas/core';
import { monitorCounts, poolDatabase, pushTokens, summaryOf, worker } from './helpers.js';

const tokens = (prefix: string, n: number) => Array.from({ length: n }, (_, i): [string, string] => [`${prefix}_${i}`, 'true']);

test('the todo view holds the tokens: a worker drains the pool from it', async () => {
  const db = await poolDatabase(fileLabel(import.meta.url));
  const { couch } = db;
  await pushTokens(couch, tokens('v', 6));
  const row = await couch.http.expectOk<{ rows: Array<{ id: string; value: Record<string, unknown> }> }>({ path: couch.http.dbPath('/_design/picas_claim/_view/todo_by_priority'), query: { limit: 1 } });
  assert.equal(row.rows[0]!.value.type, 'token', 'the row carries the token');
  assert.ok(typeof row.rows[0]!.value._rev === 'string', 'with its _rev');
  const r = await worker(db, ['--prefetch', '1']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(summaryOf(r.stderr).done, 6);
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 6, error: 0 });
});

test('a database with the older todo view (no token in the rows) is still drained, through include_docs', async () => {
  const db = await poolDatabase(fileLabel(import.meta.url) + '_older');
  const { couch } = db;
  const stored = await couch.http.expectOk<Record<string, any>>({ path: couch.http.docPath(CLAIM_DESIGN._id) });
  const older = { ...stored, views: { ...stored.views, todo_by_priority: { map: stored.views.todo_by_priority.map.replace('], doc);', '], null);') } } };
  assert.notEqual(older.views.todo_by_priority.map, stored.views.todo_by_priority.map);
  await couch.http.expectOk({ method: 'PUT', path: couch.http.docPath(CLAIM_DESIGN._id), body: older });
  await pushTokens(couch, tokens('o', 8));
  const r = await worker(db, []);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(summaryOf(r.stderr).done, 8);
  assert.deepEqual(await monitorCounts(couch), { todo: 0, locked: 0, done: 8, error: 0 });
});
