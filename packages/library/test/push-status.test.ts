/**
 * `connect()`, `pool.push()` and `pool.status()` against the test server: tokens from an async generator get
 * the ids, fields and checks `picas push` gives the same tokens from a file, in several rounds; a bad token
 * stops the push with every problem listed; configuration problems come all at once and never show the
 * password.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, runCli, scratchDir } from '@picas/testkit';
import { connect, runPilot, UsageError, type TokenInput, type TokenObject } from '../src/index.js';
import { initPool, readDoc } from './pool-setup.js';

const label = fileLabel(import.meta.url);

function tokenObjects(): TokenObject[] {
  return Array.from({ length: 25 }, (_, i) => {
    if (i % 5 === 0) return { input: `echo plain ${i}` };
    if (i % 5 === 1) return { input: { n: i }, priority: i, expected_seconds: 2 };
    if (i % 5 === 2) return { input: `echo big ${i}`, resources: { cpus: 2, mem: '1G' } };
    if (i % 5 === 3) return { input: 'echo same' };
    return { input: { n: i }, tag: `t${i}` };
  });
}

/** The same tokens, strings where a string is the same token (as a .txt line would be). */
async function* generated(): AsyncGenerator<TokenInput> {
  for (const t of tokenObjects()) {
    await new Promise((resolve) => setImmediate(resolve));
    yield Object.keys(t).length === 1 && typeof t.input === 'string' ? t.input : t;
  }
}

test('push from an async generator: the ids and fields `picas push` gives the same tokens, in rounds; a re-push adds nothing', async () => {
  const { db, connection } = await initPool(`${label}-lib`);
  const twin = await initPool(`${label}-cli`);
  const file = join(scratchDir(), 'tokens.jsonl');
  writeFileSync(file, tokenObjects().map((t) => JSON.stringify(t)).join('\n') + '\n');
  const cli = await runCli(['push', file], { env: twin.db.env });
  assert.equal(cli.exitCode, 0, cli.stderr);

  const pool = connect(connection);
  try {
    const rounds: number[] = [];
    const pushed = await pool.push(generated(), { batchSize: 2, onProgress: (n) => rounds.push(n) });
    assert.deepEqual(pushed, { created: 25, alreadyPresent: 0, failed: [], waiting: 0, blocked: 0, released: 0 });
    assert.deepEqual(rounds, [8, 16, 24, 25], 'written a round (batch size x lanes) at a time');
    const ids = async (d: typeof db) => (await d.couch.http.expectOk<{ rows: Array<{ id: string }> }>({ path: d.couch.http.dbPath('/_all_docs') })).rows.map((r) => r.id).filter((id) => !id.startsWith('_design/'));
    assert.deepEqual(await ids(db), await ids(twin.db), 'the same ids as picas push');
    const again = await pool.push(tokenObjects());
    assert.deepEqual(again, { created: 0, alreadyPresent: 25, failed: [], waiting: 0, blocked: 0, released: 0 });

    const [first] = await ids(db);
    const mine = await readDoc(db, first!);
    const theirs = await readDoc(twin.db, first!);
    for (const field of ['type', 'lock', 'done', 'input', 'priority', 'expected_seconds', 'resources', 'tag', 'scrub_count', 'exit_code']) assert.deepEqual(mine[field], theirs[field], field);

    const status = await pool.status();
    assert.equal(status.todo, 25);
    assert.equal(status.total, 25);
    assert.equal(status.locked, 0);
    assert.equal(status.conflicts, 0);
    assert.deepEqual(status.todoByShape?.map((s) => s.todo).sort((a, b) => a - b), [5, 20]);
  } finally {
    await pool.close();
  }
});

test('push with dependencies: a token waits for one pushed in an earlier round, and --after for all', async () => {
  const { connection } = await initPool(`${label}-deps`);
  const pool = connect(connection);
  try {
    const pushed = await pool.push([{ id: 'first', input: 'echo 1' }, { id: 'second', input: 'echo 2', depends_on: 'first' }, { id: 'third', input: 'echo 3', depends_on: ['second'] }], { batchSize: 1 });
    assert.equal(pushed.created, 3);
    assert.equal(pushed.waiting, 2);
    const status = await pool.status();
    assert.deepEqual([status.todo, status.waiting, status.blocked], [1, 2, 0]);
  } finally {
    await pool.close();
  }
});

test('an invalid token: every problem of its round at once, nothing of that round written', async () => {
  const { connection } = await initPool(`${label}-invalid`);
  const pool = connect(connection);
  try {
    const bad = [{ input: 'echo ok' }, { priority: 3 }, { input: 'echo x', priority: 'high' }, { input: 'echo y', lock: 5 }] as unknown as TokenObject[];
    await assert.rejects(pool.push(bad), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.problems.length, 3, err.problems.join('\n'));
      assert.match(err.problems[0]!, /^tokens:2: the token has no 'input' field/);
      assert.match(err.message, /nothing was pushed/);
      return true;
    });
    assert.equal((await pool.status()).total, 0);
  } finally {
    await pool.close();
  }
});

test('configuration problems: all at once, never the password', async () => {
  const password = 'pw-never-shown-42';
  const env = { PICAS_PASSWORD: password };
  assert.throws(
    () => connect({ url: `ftp://admin:${password}@example.org:5984`, env, cwd: scratchDir() }),
    (err: unknown) => {
      assert.ok(err instanceof UsageError);
      const all = `${err.message}\n${err.problems.join('\n')}\n${err.stack}\n${String(err.cause ?? '')}`;
      assert.ok(!all.includes(password), all);
      assert.match(all, /--url/);
      return true;
    },
  );
  const { connection } = await initPool(`${label}-options`);
  const pool = connect(connection);
  try {
    await assert.rejects(runPilot({ pool, work: () => undefined, slots: 0, lease: 'soon', onSignal: 'later' as 'fail' }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.problems.length, 3, err.problems.join('\n'));
      return true;
    });
  } finally {
    await pool.close();
  }
});
