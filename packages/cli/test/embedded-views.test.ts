/**
 * The embedded server's view engine (packages/server/src/view-functions.ts) answers as CouchDB does:
 * map functions with emit, the sandbox globals, built-in and custom reduces, documents a map function
 * cannot change, a throwing map function that only skips its document, and incremental updates.
 * (The server logs the failing map and reduce functions below on its stderr, as PouchDB does.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel, freshDatabase } from '@picas/testkit';

const { couch } = await freshDatabase(fileLabel(import.meta.url));
const http = couch.http;

async function put(path: string, body: unknown) {
  const res = await http.request<{ rev?: string }>({ method: 'PUT', path: http.dbPath(path), body });
  assert.ok(res.status === 201 || res.status === 202, `PUT ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function view(name: string, query: Record<string, string | number | boolean> = {}) {
  const res = await http.request<{ rows: Array<{ id?: string; key: unknown; value: unknown; doc?: any }>; total_rows?: number }>({
    path: http.dbPath(`/_design/t/_view/${name}`),
    query,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

test('map and reduce functions run as CouchDB runs them, and indexes follow later writes', async () => {
  await put('/_design/t', {
    views: {
      by_n: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.n, doc.tag || null); }' },
      sum_n: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.tag, doc.n); }', reduce: '_sum' },
      count_n: { map: 'function (doc) { if (typeof doc.n === "number") emit(doc.tag, 1); }', reduce: '_count' },
      stats_n: { map: 'function (doc) { if (typeof doc.n === "number") emit(null, doc.n); }', reduce: '_stats' },
      custom: {
        map: 'function (doc) { if (isArray(doc.parts)) emit(doc._id, sum(doc.parts)); }',
        reduce: 'function (keys, values, rereduce) { return values.reduce(function (a, b) { return Math.max(a, b); }, 0); }',
      },
      // changes the document it is given and throws for one document: neither may leak out
      meddler: { map: 'function (doc) { doc.n = 999; if (doc._id === "c") throw new Error("boom"); emit(doc._id, doc.n); }' },
    },
  });
  await put('/a', { n: 1, tag: 'x', parts: [1, 2, 3] });
  await put('/b', { n: 5, tag: 'y', parts: [10] });
  await put('/c', { n: 3, tag: 'x' });

  const byN = await view('by_n');
  assert.deepEqual(byN.rows.map((r) => [r.id, r.key, r.value]), [['a', 1, 'x'], ['c', 3, 'x'], ['b', 5, 'y']]);
  assert.deepEqual((await view('by_n', { include_docs: true, limit: 1 })).rows[0]!.doc.n, 1);

  assert.deepEqual((await view('sum_n', { group: true })).rows, [{ key: 'x', value: 4 }, { key: 'y', value: 5 }]);
  assert.deepEqual((await view('count_n')).rows, [{ key: null, value: 3 }]);
  assert.deepEqual((await view('stats_n')).rows[0]!.value, { sum: 9, min: 1, max: 5, count: 3, sumsqr: 35 });
  const custom = await view('custom', { reduce: false });
  assert.deepEqual(custom.rows.map((r) => [r.key, r.value]), [['a', 6], ['b', 10]]);
  assert.deepEqual((await view('custom')).rows, [{ key: null, value: 10 }]);

  const meddler = await view('meddler');
  assert.deepEqual(meddler.rows.map((r) => r.id), ['a', 'b'], 'the throwing map skipped only its own document');
  const stored = await http.request<{ n: number }>({ path: http.dbPath('/a') });
  assert.equal(stored.body.n, 1, 'a map function cannot change the stored document');
  assert.deepEqual((await view('by_n')).rows.map((r) => r.key), [1, 3, 5], 'nor what other views see');

  // incremental: an update moves a row, a delete removes it
  const a = await http.request<{ _rev: string }>({ path: http.dbPath('/a') });
  await put('/a', { _rev: a.body._rev, n: 7, tag: 'y' });
  const b = await http.request<{ _rev: string }>({ path: http.dbPath('/b') });
  const del = await http.request({ method: 'DELETE', path: http.dbPath('/b'), query: { rev: b.body._rev } });
  assert.equal(del.status, 200);
  assert.deepEqual((await view('by_n')).rows.map((r) => [r.id, r.key]), [['c', 3], ['a', 7]]);
  assert.deepEqual((await view('sum_n', { group: true })).rows, [{ key: 'x', value: 3 }, { key: 'y', value: 7 }]);

  // each function has its own sandbox: globals one sets are not seen by another
  await put('/_design/g', {
    views: {
      setter: { map: 'function (doc) { globalThis.leak = "set"; emit(doc._id, 1); }' },
      reader: { map: 'function (doc) { emit(doc._id, typeof globalThis.leak); }' },
    },
  });
  const g = (name: string) => http.request<{ rows: Array<{ value: unknown }> }>({ path: http.dbPath(`/_design/g/_view/${name}`), query: { limit: 1 } });
  assert.equal((await g('setter')).status, 200);
  assert.deepEqual((await g('reader')).body.rows.map((r) => r.value), ['undefined']);

  // a bad value for _sum is reported (as PouchDB reports it), and the server keeps answering
  await put('/bad', { n: 'x' });
  await put('/_design/bad', { views: { s: { map: 'function (doc) { if (doc._id === "bad") emit(null, doc.n); }', reduce: '_sum' } } });
  const bad = await http.request({ path: http.dbPath('/_design/bad/_view/s') });
  assert.ok(bad.status === 200 || bad.status === 500, `status ${bad.status}`);
  assert.equal((await view('count_n')).rows[0]!.value, 2);
});
