import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finished, lockedBy, newToken } from '@picas/core';
import { fileLabel, freshDatabase, runCli, testServer, waitFor } from '@picas/testkit';
import { getDoc, putDocs, pythonPicasToken, PYTHON_PICAS_VIEWS } from './fixtures.js';

// a database exactly as Python PiCaS leaves it: its Monitor design doc and its token documents, no picas init
const picasDb = await freshDatabase(fileLabel(import.meta.url) + '_python');
await putDocs(picasDb.couch, [
  { _id: '_design/Monitor', language: 'javascript', views: PYTHON_PICAS_VIEWS },
  ...['token_0', 'token_1', 'token_2'].map((id) => pythonPicasToken(id, 'todo')),
  pythonPicasToken('token_3', 'locked'),
  pythonPicasToken('token_4', 'done'),
  pythonPicasToken('token_5', 'done'),
  pythonPicasToken('token_6', 'error'),
  // PiCaS' Task.error() leaves lock = done = -1: in no Monitor view, so not counted
  { ...pythonPicasToken('token_7', 'todo'), lock: -1, done: -1 },
  // not a token
  { _id: 'notes', type: 'note', lock: 0, done: 0 },
]);

test('picas status reads a database made by Python PiCaS', async () => {
  const r = await runCli(['status'], { env: picasDb.env });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^\s+todo\s+3$/m);
  assert.match(r.stdout, /^\s+locked\s+1$/m);
  assert.match(r.stdout, /^\s+done\s+2$/m);
  assert.match(r.stdout, /^\s+error\s+1$/m);
  assert.match(r.stdout, /^\s+total\s+7$/m);
  assert.match(r.stdout, /^\s+conflicts\s+\? \(run picas init to count them\)$/m);
  const json = await runCli(['status', '--json'], { env: picasDb.env });
  assert.deepEqual(JSON.parse(json.stdout), { database: picasDb.config.db, todo: 3, locked: 1, done: 2, error: 1, waiting: 0, blocked: 0, total: 7, conflicts: null, running: null, claimed_ahead: null });
});

test('status counts tokens written by picas, with conflicts, as a table and as JSON', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url));
  const init = await runCli(['init'], { env: db.env });
  assert.equal(init.exitCode, 0, init.stderr);
  const claim = { workerId: 'w1', claimId: 'w1:1', hostname: 'node1', leaseMs: 60_000 };
  const locked = lockedBy(newToken('t_locked', 'sleep 100'), claim);
  const now = Date.now() / 1000;
  await putDocs(db.couch, [
    newToken('t_todo1', 'echo 1'),
    newToken('t_todo2', 'echo 2'),
    locked,
    { ...finished(locked, { exitCode: 0, started: now - 2, finished: now - 1 }), _id: 't_done' },
    finished(lockedBy(newToken('t_error', 'exit 3'), claim), { exitCode: 3, started: now - 2, finished: now - 1 }),
  ]);
  // a conflicting revision of t_todo1, as two replicas might leave it
  await db.couch.http.expectOk({
    method: 'POST',
    path: db.couch.http.dbPath('/_bulk_docs'),
    body: { new_edits: false, docs: [{ ...newToken('t_todo1', 'echo 1'), _rev: '1-aaaabbbbccccddddeeeeffff00001111' }] },
  });
  const r = await runCli(['status'], { env: db.env });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${db.config.db} as admin`));
  assert.match(r.stdout, /^\s+todo\s+2$/m);
  assert.match(r.stdout, /^\s+locked\s+1$/m);
  assert.match(r.stdout, /^\s+done\s+1$/m);
  assert.match(r.stdout, /^\s+error\s+1$/m);
  assert.match(r.stdout, /^\s+total\s+5$/m);
  assert.match(r.stdout, /^\s+conflicts\s+1$/m);
  const json = JSON.parse((await runCli(['status', '--json'], { env: db.env })).stdout);
  assert.deepEqual(json, { database: db.config.db, todo: 2, locked: 1, done: 1, error: 1, waiting: 0, blocked: 0, total: 5, conflicts: 1, running: null, claimed_ahead: null });
});

test('status --watch redraws until nothing is todo or locked', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_watch');
  await runCli(['init'], { env: db.env });
  const claim = { workerId: 'w1', claimId: 'w1:1', hostname: 'node1', leaseMs: 60_000 };
  const locked = lockedBy(newToken('w1', 'sleep 1'), claim);
  await putDocs(db.couch, [locked]);
  const watch = runCli(['status', '--watch', '0.2s'], { env: db.env });
  // let it draw at least once (a loaded machine may take seconds to start it), then finish the token
  let drawn = '';
  watch.stdout!.on('data', (chunk: Buffer) => (drawn += chunk.toString()));
  await waitFor(() => drawn.includes('\n'), { what: 'the first redraw', timeoutMs: 60_000 });
  const current = await db.couch.http.expectOk({ path: db.couch.http.docPath('w1') });
  const now = Date.now() / 1000;
  await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath('w1'), body: finished(current, { exitCode: 0, started: now - 1, finished: now }) });
  const r = await watch;
  assert.equal(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length >= 2, `expected several redraws, got: ${r.stdout}`);
  assert.match(lines[0]!, /todo 0 {2}locked 1 {2}done 0 {2}error 0 {2}total 1 {2}\[\.+\] +0% finished/);
  assert.match(lines.at(-1)!, /todo 0 {2}locked 0 {2}done 1 {2}error 0 {2}total 1 {2}\[#+\] 100% finished/);
  // --watch with --json prints one JSON object per line
  const json = await runCli(['status', '--watch', '1', '--json'], { env: db.env });
  assert.equal(json.exitCode, 0);
  assert.equal(JSON.parse(json.stdout.trim().split('\n').at(-1)!).done, 1);
  const bad = await runCli(['status', '--watch', 'soon'], { env: db.env });
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stderr, /invalid duration 'soon'/);
});

test('clear errors and exit codes: missing database 4, wrong password 3 (never printed), unreachable 2', async () => {
  const server = await testServer();
  const missing = await runCli(['status'], { env: { ...picasDb.env, PICAS_DB: 'does_not_exist' } });
  assert.equal(missing.exitCode, 4);
  assert.equal(missing.stderr.trim(), "picas: database 'does_not_exist' does not exist: run picas init");

  const secret = 'Wr0ng-Secret-Pw';
  const wrong = await runCli(['status'], { env: { ...picasDb.env, PICAS_PASSWORD: secret } });
  assert.equal(wrong.exitCode, 3);
  // where the failed credentials came from, never their values
  assert.equal(wrong.stderr.trim(), 'picas: authentication failed for user admin (user name from env PICAS_USERNAME, password from env PICAS_PASSWORD)');
  assert.ok(!(wrong.stdout + wrong.stderr).includes(secret));

  // credentials in the URL are used and never shown either
  const inUrl = new URL(server.url);
  inUrl.username = 'admin';
  inUrl.password = secret;
  const viaUrl = await runCli(['status'], { env: { PICAS_URL: inUrl.toString(), PICAS_DB: picasDb.config.db } });
  assert.equal(viaUrl.exitCode, 3);
  assert.ok(!(viaUrl.stdout + viaUrl.stderr).includes(secret));
  const goodUrl = new URL(server.url);
  goodUrl.username = server.username;
  goodUrl.password = server.password;
  const ok = await runCli(['status', '--json'], { env: { PICAS_URL: goodUrl.toString(), PICAS_DB: picasDb.config.db } });
  assert.equal(ok.exitCode, 0, ok.stderr);
  assert.ok(!(ok.stdout + ok.stderr).includes(server.password));

  const anonymous = await runCli(['status'], { env: { PICAS_URL: server.url, PICAS_DB: picasDb.config.db } });
  assert.equal(anonymous.exitCode, 3);
  assert.match(anonymous.stderr, /requires a login: set PICAS_USERNAME and PICAS_PASSWORD/);

  const down = await runCli(['status'], { env: { ...picasDb.env, PICAS_URL: 'http://127.0.0.1:9' } });
  assert.equal(down.exitCode, 2);
  assert.equal(down.stderr.trim(), 'picas: cannot reach CouchDB at http://127.0.0.1:9 (ECONNREFUSED)');

  const badConfig = await runCli(['status'], { env: { ...picasDb.env, PICAS_URL: 'not a url' } });
  assert.equal(badConfig.exitCode, 1);
  assert.match(badConfig.stderr, /--url \(from env PICAS_URL\): not a valid URL/);
});

test('status counts from picas/state_counts (a built-in _count), and from Monitor where an older _design/picas lacks it', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_counts');
  const init = await runCli(['init'], { env: db.env });
  assert.equal(init.exitCode, 0, init.stderr);
  const claim = { workerId: 'w1', claimId: 'w1:1', hostname: 'node1', leaseMs: 60_000 };
  await putDocs(db.couch, [newToken('c_todo', 'echo 1'), lockedBy(newToken('c_locked', 'sleep 9'), claim)]);
  const picas = await getDoc(db.couch, '_design/picas');
  assert.equal(picas.views.state_counts.reduce, '_count');
  // without the Monitor views, the counts still come (from our view)
  const monitor = await getDoc(db.couch, '_design/Monitor');
  await db.couch.http.expectOk({ method: 'DELETE', path: db.couch.http.docPath('_design/Monitor'), query: { rev: monitor._rev } });
  const ours = JSON.parse((await runCli(['status', '--json'], { env: db.env })).stdout);
  assert.deepEqual(ours, { database: db.config.db, todo: 1, locked: 1, done: 0, error: 0, waiting: 0, blocked: 0, total: 2, conflicts: 0, running: null, claimed_ahead: null });
  // an older _design/picas (no state_counts) and the Monitor views: counted from Monitor/overview_total
  const { _id: _monitorId, _rev: _monitorRev, ...monitorBody } = monitor;
  await putDocs(db.couch, [{ ...monitorBody, _id: '_design/Monitor' }]);
  const { state_counts: _dropped, ...olderViews } = picas.views;
  await putDocs(db.couch, [{ ...picas, views: olderViews }]);
  const older = JSON.parse((await runCli(['status', '--json'], { env: db.env })).stdout);
  assert.deepEqual(older, { database: db.config.db, todo: 1, locked: 1, done: 0, error: 0, waiting: 0, blocked: 0, total: 2, conflicts: 0, running: null, claimed_ahead: null });
});
