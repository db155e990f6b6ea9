/**
 * The examples run as written: each example's token file is pushed with `picas push` and drained by a pilot
 * started in that example's directory (where a user would start it), and every token ends done, except
 * the one examples/quick/tokens.txt fails on purpose. The database is made as a user would: `picas init`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, freshDatabase, repoRoot, runCli } from '@picas/testkit';
import { monitorCounts, tempDir, worker } from './helpers.js';

const label = fileLabel(import.meta.url);

interface ListedToken {
  _id: string;
  input: string;
  exit_code: number;
}

async function drainExample(dir: string, file: string, env: Record<string, string> = {}) {
  const db = await freshDatabase(`${label}-${file.replace(/\W/g, '-')}`);
  const init = await runCli(['init'], { env: db.env });
  assert.equal(init.exitCode, 0, init.stderr);
  const push = await runCli(['push', file], { env: db.env, cwd: dir });
  assert.equal(push.exitCode, 0, push.stderr);
  const r = await worker(db, [], { cwd: dir, env });
  assert.equal(r.exitCode, 0, r.stderr);
  const listed = await runCli(['list', '--json'], { env: db.env });
  assert.equal(listed.exitCode, 0, listed.stderr);
  return { db, tokens: JSON.parse(listed.stdout) as ListedToken[] };
}

test('examples/quick/tokens.txt: every token is done, but the one that fails on purpose', async () => {
  const { db, tokens } = await drainExample(join(repoRoot, 'examples/quick'), 'tokens.txt');
  const failing = tokens.filter((t) => t.exit_code !== 0);
  assert.deepEqual(failing.map((t) => [t.input, t.exit_code]), [["echo 'about to fail' && exit 3", 3]]);
  const counts = await monitorCounts(db.couch);
  assert.deepEqual(counts, { todo: 0, locked: 0, done: tokens.length - 1, error: 1 });
});

test('examples/dag/workflow.yaml: split, steps and merge are all done (total 500500)', async () => {
  const shared = tempDir('picas-dag-example-');
  const { db } = await drainExample(join(repoRoot, 'examples/dag'), 'workflow.yaml', { PICAS_DAG_DIR: shared });
  assert.deepEqual(await monitorCounts(db.couch), { todo: 0, locked: 0, done: 6, error: 0 });
  const merged = await runCli(['logs', 'dag_merge'], { env: db.env });
  assert.match(merged.stdout, /total 500500/);
});

test("the README's workflow is examples/scripts/workflow.yaml, and its tokens call the scripts beside it (./split.sh): all done", async () => {
  const example = join(repoRoot, 'examples/scripts');
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /this is `examples\/scripts\/workflow\.yaml`[^]*?```yaml\n([^]*?)```/.exec(readme);
  assert.ok(block, 'the README shows the workflow');
  assert.equal(block[1], readFileSync(join(example, 'workflow.yaml'), 'utf8'), 'the README shows the file as it is');
  // a copy, so that the scripts' work/ folder is not written into the repository
  const dir = tempDir('picas-scripts-example-');
  cpSync(example, dir, { recursive: true });
  const { db } = await drainExample(dir, 'workflow.yaml');
  assert.deepEqual(await monitorCounts(db.couch), { todo: 0, locked: 0, done: 4, error: 0 });
  const merged = await runCli(['logs', 'merge'], { env: db.env });
  assert.match(merged.stdout, /total 500500/);
});
