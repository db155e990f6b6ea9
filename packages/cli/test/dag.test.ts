import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { getDoc, tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));
await runCli(['init'], { env: db.env });
const cli = (...args: string[]) => runCli(args, { env: db.env });

async function tokenIds(): Promise<string[]> {
  const body = await db.couch.http.expectOk<{ rows: Array<{ id: string }> }>({ path: db.couch.http.dbPath('/_all_docs') });
  return body.rows.map((r) => r.id).filter((id) => !id.startsWith('_design/'));
}

async function viewIds(design: string, view: string, query: Record<string, unknown> = {}): Promise<unknown[]> {
  const body = await db.couch.http.expectOk<{ rows: Array<{ id?: string; key: unknown; value: unknown }> }>({ path: db.couch.http.dbPath(`/_design/${design}/_view/${view}`), query: query as Record<string, string> });
  return body.rows.map((r) => (r.id !== undefined ? r.id : [r.key, r.value]));
}

const workflow = `- id: split
  input: echo split
- id: step_1
  depends_on: [split]
  input: echo step 1
- id: step_2
  depends_on: [split]
  input: echo step 2
- id: merge
  depends_on: [step_1, step_2]
  input: echo merge
`;

test('push rejects a cycle, naming it, with nothing written', async () => {
  const dir = tempDir({ 'cycle.yaml': `- id: a\n  input: echo a\n  depends_on: [c]\n- id: b\n  input: echo b\n  depends_on: [a]\n- id: c\n  input: echo c\n  depends_on: [b]\n- id: free\n  input: echo free\n` });
  const r = await runCli(['push', 'cycle.yaml'], { env: db.env, cwd: dir });
  assert.equal(r.exitCode, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^picas: dependency cycle: a -> c -> b -> a; nothing was pushed$/m);
  assert.deepEqual(await tokenIds(), []);
});

test('push rejects an unknown id and a self-dependency with nothing written', async () => {
  const dir = tempDir({
    'unknown.jsonl': '{"id":"x1","input":"echo 1"}\n{"id":"x2","input":"echo 2","depends_on":["x1","nope"]}\n',
    'self.json': '[{"id":"s","input":"echo s","depends_on":["s"]}]',
  });
  const r = await runCli(['push', 'unknown.jsonl'], { env: db.env, cwd: dir });
  assert.equal(r.exitCode, 1);
  assert.match(r.stderr, /^picas: unknown token id in depends_on: nope \(needed by x2\); nothing was pushed$/m);
  const s = await runCli(['push', 'self.json'], { env: db.env, cwd: dir });
  assert.equal(s.exitCode, 1);
  assert.match(s.stderr, /^picas: token s depends on itself; nothing was pushed$/m);
  const after = await runCli(['push', 'unknown.jsonl', '--after', 'missing_id'], { env: db.env, cwd: dir });
  assert.equal(after.exitCode, 1);
  assert.deepEqual(await tokenIds(), []);
});

test('a workflow: waiting tokens are invisible to every Monitor view; status, list and graph show them; re-push is idempotent', async () => {
  const dir = tempDir({ 'workflow.yaml': workflow });
  const r = await runCli(['push', 'workflow.yaml'], { env: db.env, cwd: dir });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /pushed 4 tokens, 0 already present\ndependencies: 3 waiting, 0 blocked, 0 released at once/);
  const again = await runCli(['push', 'workflow.yaml'], { env: db.env, cwd: dir });
  assert.equal(again.exitCode, 0, again.stderr);
  assert.match(again.stdout, /pushed 0 tokens, 4 already present/);

  // what Python PiCaS sees: only the split is todo; the waiting tokens are in no view at all
  assert.deepEqual(await viewIds('Monitor', 'todo'), ['split']);
  for (const view of ['locked', 'done', 'error']) assert.deepEqual(await viewIds('Monitor', view), [], view);
  assert.deepEqual(await viewIds('Monitor', 'overview_total', { group: 'true' }), [['todo', 1]]);
  assert.deepEqual(await viewIds('picas_claim', 'todo_by_priority'), ['split']);

  const merge = await getDoc(db.couch, 'merge');
  assert.equal(merge.lock, -1);
  assert.equal(merge.done, 0);
  assert.deepEqual(merge.depends_on, ['step_1', 'step_2']);
  assert.equal((await getDoc(db.couch, 'split')).has_dependents, true);

  const status = await cli('status', '--json');
  const counts = JSON.parse(status.stdout);
  assert.equal(counts.todo, 1);
  assert.equal(counts.waiting, 3);
  assert.equal(counts.blocked, 0);
  assert.equal(counts.total, 4);
  const table = await cli('status');
  assert.match(table.stdout, /waiting\s+3/);

  const list = await cli('list', '--state', 'waiting', '--json');
  assert.deepEqual(JSON.parse(list.stdout).map((d: { _id: string }) => d._id), ['merge', 'step_1', 'step_2']);

  const dot = await cli('graph');
  assert.equal(dot.exitCode, 0, dot.stderr);
  assert.match(dot.stdout, /"split" -> "step_1";/);
  assert.match(dot.stdout, /"step_2" -> "merge";/);
  assert.match(dot.stdout, /"merge" \[label="merge\\nwaiting"/);
  const mermaid = await cli('graph', '--format', 'mermaid', '--state', 'todo');
  assert.match(mermaid.stdout, /^flowchart LR\n {2}n0\["split<br\/>todo"\]:::todo\n/);
  assert.doesNotMatch(mermaid.stdout, /merge/);
});

test('push --after: a .txt file waits for existing tokens; a token already depended on gets has_dependents', async () => {
  const dir = tempDir({ 'report.txt': 'echo report\n', 'base.txt': 'echo base\n' });
  const base = await runCli(['push', 'base.txt', '--prefix', 'base'], { env: db.env, cwd: dir });
  assert.equal(base.exitCode, 0, base.stderr);
  const [baseId] = (await tokenIds()).filter((id) => id.startsWith('base_'));
  const r = await runCli(['push', 'report.txt', '--prefix', 'report', '--after', `merge,${baseId}`], { env: db.env, cwd: dir });
  assert.equal(r.exitCode, 0, r.stderr);
  const [reportId] = (await tokenIds()).filter((id) => id.startsWith('report_'));
  const report = await getDoc(db.couch, reportId!);
  assert.deepEqual(report.depends_on, ['merge', baseId]);
  assert.equal(report.lock, -1);
  assert.equal((await getDoc(db.couch, 'merge')).has_dependents, true);
  assert.equal((await getDoc(db.couch, baseId!)).has_dependents, true);
});

test('deleting a depended-on token needs --force, and blocks its dependents with the reason', async () => {
  const refused = await cli('delete', 'step_2', '--yes');
  assert.equal(refused.exitCode, 1);
  assert.match(refused.stderr, /^picas: token step_2 has 1 waiting token depending on it \(merge\): use --force to delete it and block them; nothing was deleted$/m);
  assert.equal((await getDoc(db.couch, 'step_2')).lock, -1, 'still there');
  const forced = await cli('delete', 'step_2', '--yes', '--force');
  assert.equal(forced.exitCode, 0, forced.stderr);
  assert.match(forced.stdout, /deleted 1 token/);
  const merge = await getDoc(db.couch, 'merge');
  assert.equal(merge.blocked_by.id, 'step_2');
  assert.match(merge.blocked_by.reason, /dependency step_2 was deleted/);
  const blocked = await cli('list', '--state', 'blocked');
  assert.match(blocked.stdout, /merge\s+blocked/);
  assert.match(blocked.stdout, /report_\w+\s+blocked/, 'blocked through the chain, too');
  const status = JSON.parse((await cli('status', '--json')).stdout);
  assert.equal(status.blocked, 2);
  assert.deepEqual(await viewIds('Monitor', 'error'), [], 'a blocked token is not a PiCaS error');
});
