import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { getDoc, tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));

const dir = tempDir({
  'quick.txt': "# PiCaS' quick example\necho 'this is token 1'\necho 'this is token 2'\n\necho 'this is token 2'\n",
  'tokens.json': '[\n  {"input": "echo json", "priority": 5},\n  {"input": {"cmd": "echo", "args": ["a"]}, "_id": "json-explicit"}\n]\n',
  'tokens.jsonl': '{"input": "echo jsonl 1", "expected_seconds": 30}\n\n{"input": "echo jsonl 2", "dataset": "d2"}\n',
  'tokens.yaml': '- input: echo yaml 1\n  priority: 1\n- input: echo yaml 2\n',
  'tokens.yml': '- input: echo yml\n',
  // bad files
  'bad.json': '[\n  {"input": "a"},\n  {"input": "b",}\n]\n',
  'bad.yaml': '- input: a\n- input: "unclosed\n',
  'noinput.jsonl': '{"input": "ok"}\n{"cmd": "no input here"}\n',
  'underscore.yaml': '- input: a\n  _rev: 1-x\n',
  'empty.txt': '',
  'latin1.txt': Uint8Array.from([...Buffer.from('echo ok\necho caf'), 0xe9, 0x0a]),
});

async function tokenIds(): Promise<string[]> {
  const body = await db.couch.http.expectOk<{ rows: Array<{ id: string }> }>({ path: db.couch.http.dbPath('/_all_docs') });
  return body.rows.map((r) => r.id).filter((id) => !id.startsWith('_design/'));
}

test('every file is validated first: each problem names the file and line, exit 1, nothing written', async () => {
  const cases: Array<[string, RegExp]> = [
    ['bad.json', /bad\.json:3:\d+: invalid JSON/],
    ['bad.yaml', /bad\.yaml:\d+: invalid YAML/],
    ['noinput.jsonl', /noinput\.jsonl:2: the token has no 'input' field/],
    ['underscore.yaml', /underscore\.yaml:1: field '_rev': names starting with '_' are reserved/],
    ['empty.txt', /empty\.txt: the file is empty/],
    ['latin1.txt', /latin1\.txt:2: not valid UTF-8/],
  ];
  for (const [file, message] of cases) {
    const r = await runCli(['push', file, 'quick.txt'], { env: db.env, cwd: dir });
    assert.equal(r.exitCode, 1, `${file}: ${r.stderr}`);
    assert.match(r.stderr, message, file);
  }
  // all problems of all files at once
  const all = await runCli(['push', 'quick.txt', ...cases.map(([f]) => f)], { env: db.env, cwd: dir });
  assert.equal(all.exitCode, 1);
  for (const [file, message] of cases) assert.match(all.stderr, message, file);
  assert.match(all.stderr, /nothing was pushed/);
  assert.deepEqual(await tokenIds(), [], 'a bad file in the batch means nothing is written');
});

test('push reads .txt, .json, .jsonl, .yaml and .yml; a re-push creates nothing', async () => {
  const first = await runCli(['push', 'quick.txt', 'tokens.json', 'tokens.jsonl', 'tokens.yaml', 'tokens.yml'], { env: db.env, cwd: dir });
  assert.equal(first.exitCode, 0, first.stderr);
  // quick.txt has 3 tokens (the repeated line stays a separate token), then 2 + 2 + 2 + 1
  assert.equal(first.stdout.trim(), 'pushed 10 tokens, 0 already present');
  const again = await runCli(['push', 'tokens.yml', 'quick.txt', 'tokens.json', 'tokens.jsonl', 'tokens.yaml'], { env: db.env, cwd: dir });
  assert.equal(again.exitCode, 0, again.stderr);
  assert.equal(again.stdout.trim(), 'pushed 0 tokens, 10 already present');

  const ids = await tokenIds();
  assert.equal(ids.length, 10);
  assert.ok(ids.includes('json-explicit'));
  assert.equal(ids.filter((id) => /^token_[0-9a-f]{16}(_2)?$/.test(id)).length, 9);

  const explicit = await getDoc(db.couch, 'json-explicit');
  assert.deepEqual(explicit.input, { cmd: 'echo', args: ['a'] });
  for (const id of ids) {
    const doc = await getDoc(db.couch, id);
    // PiCaS' fields, so Python PiCaS can claim them
    assert.equal(doc.type, 'token');
    assert.equal(doc.lock, 0);
    assert.equal(doc.done, 0);
    assert.equal(doc.hostname, '');
    assert.equal(doc.scrub_count, 0);
    assert.equal(doc.exit_code, '');
    assert.deepEqual(doc.output, {});
    assert.deepEqual(doc.error, []);
    assert.equal(typeof doc.created, 'number');
  }
  const inputs = await Promise.all(ids.map(async (id) => (await getDoc(db.couch, id)).input));
  assert.equal(inputs.filter((i) => i === "echo 'this is token 2'").length, 2);
  const prioritized = (await Promise.all(ids.map((id) => getDoc(db.couch, id)))).find((d) => d.input === 'echo json');
  assert.equal(prioritized?.priority, 5);
});

test('--prefix and --force-new choose other ids', async () => {
  const prefixed = await runCli(['push', 'tokens.yml', '--prefix', 'run2'], { env: db.env, cwd: dir });
  assert.equal(prefixed.stdout.trim(), 'pushed 1 token, 0 already present');
  assert.ok((await tokenIds()).some((id) => /^run2_[0-9a-f]{16}$/.test(id)));
  const forced = await runCli(['push', 'tokens.yml', '--prefix', 'run2', '--force-new'], { env: db.env, cwd: dir });
  assert.equal(forced.stdout.trim(), 'pushed 1 token, 0 already present');
  assert.equal((await tokenIds()).filter((id) => id.startsWith('run2_')).length, 2);
  const bad = await runCli(['push', 'tokens.yml', '--prefix', '_x'], { env: db.env, cwd: dir });
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stderr, /--prefix: '_x' is not a usable id prefix/);
});

test('small batches give the same result, and a missing database says to run picas init', async () => {
  const many = Array.from({ length: 25 }, (_, i) => `echo batch ${i}`).join('\n');
  const batchDir = tempDir({ 'many.txt': many });
  const r = await runCli(['push', 'many.txt', '--batch-size', '7'], { env: db.env, cwd: batchDir });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'pushed 25 tokens, 0 already present');
  assert.doesNotMatch(r.stderr, /\[#/, 'no progress bar when stderr is not a terminal');
  const missing = await runCli(['push', 'many.txt'], { env: { ...db.env, PICAS_DB: 'no_such_db_here' }, cwd: batchDir });
  assert.equal(missing.exitCode, 4);
  assert.match(missing.stderr, /database 'no_such_db_here' does not exist: run picas init/);
});

test('a document the server refuses is reported by id, never dropped silently', async () => {
  await db.couch.http.expectOk({
    method: 'PUT',
    path: db.couch.http.docPath('_design/guard'),
    body: { validate_doc_update: 'function (doc) { if (doc.input === "rm -rf /") { throw({forbidden: "not this one"}); } }' },
  });
  const guarded = tempDir({ 'mixed.jsonl': '{"input": "echo fine"}\n{"input": "rm -rf /", "_id": "dangerous"}\n' });
  const r = await runCli(['push', 'mixed.jsonl'], { env: db.env, cwd: guarded });
  assert.equal(r.stdout.trim(), 'pushed 1 token, 0 already present');
  assert.match(r.stderr, /token dangerous was not written: forbidden \(not this one\)/);
  assert.match(r.stderr, /1 token was not written \(listed above\)/);
  assert.equal(r.exitCode, 3);
  await db.couch.http.request({ method: 'DELETE', path: db.couch.http.docPath('_design/guard'), query: { rev: (await getDoc(db.couch, '_design/guard'))._rev } });
});
