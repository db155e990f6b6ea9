// Tokens that say what they need, through the CLI: push validates resources naming file, line and field;
// --cpus/--gpus/--mem give them to a whole file; status counts the todo tokens per shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));

const dir = tempDir({
  'small.txt': 'echo one\necho two\necho three\n',
  'big.txt': 'echo big 1\necho big 2\n',
  'mixed.yaml': '- input: echo gpu\n  resources: {cpus: 2, gpus: 1, mem: 16G}\n',
  'bad.jsonl': '{"input": "a", "resources": {"cpus": -1}}\n{"input": "b", "resources": {"mem": "12Q"}}\n',
});

test('push: bad resources are named by file, line and field; nothing is written', async () => {
  await runCli(['init'], { env: db.env });
  const r = await runCli(['push', 'bad.jsonl'], { env: db.env, cwd: dir });
  assert.equal(r.exitCode, 1, r.stderr);
  assert.match(r.stderr, /bad\.jsonl:1: field resources\.cpus: -1 must be a whole number of at least 1/);
  assert.match(r.stderr, /bad\.jsonl:2: field resources\.mem: "12Q" must be bytes or a size/);
  const bad = await runCli(['push', '--mem', '12Q', 'small.txt'], { env: db.env, cwd: dir });
  assert.notEqual(bad.exitCode, 0);
  assert.match(bad.stderr, /'12Q' is not a size/);
});

test('push --cpus/--gpus/--mem gives every token of the file its needs; status counts todo per shape', async () => {
  for (const args of [['small.txt'], ['--cpus', '8', '--gpus', '1', 'big.txt'], ['mixed.yaml']]) {
    const r = await runCli(['push', ...args], { env: db.env, cwd: dir });
    assert.equal(r.exitCode, 0, r.stderr);
  }
  const status = await runCli(['status'], { env: db.env });
  assert.equal(status.exitCode, 0, status.stderr);
  assert.match(status.stdout, /todo by shape: 1 cpu: 3 · 2 cpu \+ 1 gpu \+ 16G mem: 1 · 8 cpu \+ 1 gpu: 2/);
  const json = await runCli(['status', '--json'], { env: db.env });
  assert.deepEqual(JSON.parse(json.stdout).todo_by_shape, [
    { shape: '1 cpu', todo: 3 },
    { shape: '2 cpu + 1 gpu + 16G mem', todo: 1 },
    { shape: '8 cpu + 1 gpu', todo: 2 },
  ]);
});
