import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { getDoc, putDocs, PYTHON_PICAS_VIEWS } from './fixtures.js';

test('init creates the database and the views; a second run changes nothing and says so', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url), { create: false });
  const first = await runCli(['init'], { env: db.env });
  assert.equal(first.exitCode, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`^created database '${db.config.db}'`, 'm'));
  assert.match(first.stdout, /^created _design\/Monitor \(views: todo, locked, done, error, overview_total\)$/m);
  assert.match(first.stdout, /^created _design\/picas_claim \(views: todo_by_priority, todo_by_shape\)$/m);
  assert.match(first.stdout, /^created _design\/picas \(views: locked_by_lease, conflicts, state_counts\)$/m);

  const monitor = await getDoc(db.couch, '_design/Monitor');
  assert.equal(monitor.language, 'javascript');
  // PiCaS' view functions, character for character
  assert.deepEqual(monitor.views, PYTHON_PICAS_VIEWS);
  const picas = await getDoc(db.couch, '_design/picas');
  assert.deepEqual(Object.keys(picas.views).sort(), ['conflicts', 'locked_by_lease', 'state_counts']);
  assert.deepEqual(Object.keys((await getDoc(db.couch, '_design/picas_claim')).views), ['todo_by_priority', 'todo_by_shape'], 'the claim views, alone in their design doc');
  assert.equal(picas.views.conflicts.reduce, '_count');

  const second = await runCli(['init'], { env: db.env });
  assert.equal(second.exitCode, 0, second.stderr);
  assert.match(second.stdout, /^nothing to do: database '.*' and its views are up to date/);
  assert.equal((await getDoc(db.couch, '_design/Monitor'))._rev, monitor._rev, 'Monitor was not rewritten');
  assert.equal((await getDoc(db.couch, '_design/picas'))._rev, picas._rev, 'picas was not rewritten');
});

test("init on a Python PiCaS database keeps the user's views and fixes only ours", async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_picas');
  const autopilot = { map: 'function(doc) { if (doc.type == "token" && doc.cores == 4) { emit(doc._id, doc._id); } }' };
  await putDocs(db.couch, [
    {
      _id: '_design/Monitor',
      language: 'javascript',
      // PiCaS' own views, one of them damaged, plus a user's extra view
      views: { ...PYTHON_PICAS_VIEWS, error: { map: 'function(doc) { emit(doc._id, 1); }' }, multicore_todo: autopilot },
    },
  ]);
  const r = await runCli(['init'], { env: db.env });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^updated _design\/Monitor: fixed error; kept other views: multicore_todo$/m);
  assert.match(r.stdout, /^created _design\/picas/m);
  const monitor = await getDoc(db.couch, '_design/Monitor');
  assert.deepEqual(monitor.views, { ...PYTHON_PICAS_VIEWS, multicore_todo: autopilot });

  const again = await runCli(['init'], { env: db.env });
  assert.match(again.stdout, /^nothing to do/);
});

test('a PiCaS Monitor stored with a leading newline (as in the Python source) counts as up to date', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_newline');
  const withNewlines = Object.fromEntries(
    Object.entries(PYTHON_PICAS_VIEWS).map(([name, view]) => [name, Object.fromEntries(Object.entries(view).map(([k, code]) => [k, `\n${code}`]))]),
  );
  await putDocs(db.couch, [{ _id: '_design/Monitor', language: 'javascript', views: withNewlines }]);
  const r = await runCli(['init'], { env: db.env });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^_design\/Monitor is up to date$/m);
  assert.deepEqual((await getDoc(db.couch, '_design/Monitor')).views, withNewlines, 'not rewritten, so its index is kept');
});

test('init on a database from an earlier picas moves todo_by_priority to _design/picas_claim, and keeps a user view of that name', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_moved');
  const first = await runCli(['init'], { env: db.env });
  assert.equal(first.exitCode, 0, first.stderr);
  // _design/picas as earlier versions wrote it: the claim view was one of its views
  const picas = await getDoc(db.couch, '_design/picas');
  const claim = await getDoc(db.couch, '_design/picas_claim');
  await putDocs(db.couch, [{ ...picas, views: { ...picas.views, todo_by_priority: claim.views.todo_by_priority } }]);
  const r = await runCli(['init'], { env: db.env });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^updated _design\/picas: removed todo_by_priority \(moved to another design document\)$/m);
  assert.deepEqual(Object.keys((await getDoc(db.couch, '_design/picas')).views).sort(), ['conflicts', 'locked_by_lease', 'state_counts']);

  // a view of the user's own under that name is not ours to remove
  const mine = { map: 'function(doc) { if (doc.type == "token") { emit(doc._id, null); } }' };
  const now = await getDoc(db.couch, '_design/picas');
  await putDocs(db.couch, [{ ...now, views: { ...now.views, todo_by_priority: mine } }]);
  const again = await runCli(['init'], { env: db.env });
  assert.equal(again.exitCode, 0, again.stderr);
  assert.match(again.stdout, /^nothing to do/);
  assert.deepEqual((await getDoc(db.couch, '_design/picas')).views.todo_by_priority, mine);
});
