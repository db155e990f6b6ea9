/**
 * Tokens that wait for other tokens (docs/dag.md), end to end with real pilots: the examples/dag workflow on
 * several pilots, a failing step that blocks the merge until `picas retry`, and a pilot killed right after
 * completing a parent, whose dependents another pilot releases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { TokenDoc } from '@picas/core';
import { fileLabel, freshDatabase, repoRoot, runCli, waitFor, type TestDatabase } from '@picas/testkit';
import { getToken, injectConflict, startProxy, tempDir, worker } from './helpers.js';

async function dagDatabase(label: string): Promise<TestDatabase> {
  const db = await freshDatabase(`${fileLabel(import.meta.url)}-${label}`);
  const init = await runCli(['init'], { env: db.env });
  assert.equal(init.exitCode, 0, init.stderr);
  return db;
}

async function push(db: TestDatabase, dir: string, file: string, ...args: string[]): Promise<void> {
  const r = await runCli(['push', file, ...args], { env: db.env, cwd: dir });
  assert.equal(r.exitCode, 0, r.stderr);
}

async function allTokens(db: TestDatabase): Promise<Map<string, TokenDoc>> {
  const body = await db.couch.http.expectOk<{ rows: Array<{ doc?: TokenDoc }> }>({ path: db.couch.http.dbPath('/_all_docs'), query: { include_docs: true } });
  return new Map(body.rows.flatMap((r) => (r.doc && r.doc.type === 'token' ? [[r.doc._id, r.doc] as const] : [])));
}

test('examples/dag on three pilots: every step after the split, the merge once and after every step', async () => {
  const db = await dagDatabase('example');
  const dir = tempDir();
  const steps = 6;
  writeFileSync(join(dir, 'workflow.yaml'), execFileSync('bash', [join(repoRoot, 'examples/dag/make-workflow.sh'), String(steps)]));
  await push(db, dir, 'workflow.yaml');
  const data = join(dir, 'data');
  const pilots = await Promise.all([1, 2, 3].map((i) => worker(db, ['--worker-id', `p${i}`], { env: { PICAS_DAG_DIR: data } })));
  for (const p of pilots) assert.equal(p.exitCode, 0, p.stderr.slice(-2000));

  const tokens = await allTokens(db);
  assert.equal(tokens.size, steps + 2);
  // on a failure, what the pilots warned about (a release or a sweep that failed under load)
  const warnings = () => pilots.flatMap((p, i) => p.stderr.split('\n').filter((l) => /"level":(40|50)/.test(l)).map((l) => `p${i + 1}: ${l.slice(0, 400)}`)).slice(-20).join('\n');
  for (const doc of tokens.values()) assert.equal(doc.exit_code, 0, `${doc._id} done (state: lock ${doc.lock}, done ${doc.done}); pilot warnings:\n${warnings()}`);
  const split = tokens.get('dag_split')!;
  const merge = tokens.get('dag_merge')!;
  const stepDocs = [...tokens.values()].filter((d) => d._id.startsWith('dag_step_'));
  for (const step of stepDocs) {
    assert.ok(step.started! >= split.finished!, `${step._id} started after the split finished`);
    assert.ok(merge.started! >= step.finished!, `the merge started after ${step._id} finished`);
    assert.equal(step.attempts, 1);
  }
  assert.equal(merge.attempts, 1);
  // what ran, as the commands themselves recorded it: each token once, the merge last
  const runs = readFileSync(join(data, 'runs.log'), 'utf8').trim().split('\n');
  const starts = runs.filter((l) => l.includes(' start ')).map((l) => l.split(' ')[0]);
  assert.equal(starts.length, steps + 2);
  assert.equal(new Set(starts).size, steps + 2, 'no token ran twice');
  assert.equal(starts.filter((id) => id === 'dag_merge').length, 1);
  assert.equal(runs.at(-1)!.split(' ').slice(0, 2).join(' '), 'dag_merge end');
  const mergeOut = await runCli(['logs', 'dag_merge'], { env: db.env });
  assert.match(mergeOut.stdout, /total 500500/);
  const stepOut = await runCli(['logs', 'dag_step_1'], { env: db.env });
  assert.match(stepOut.stdout, /\(after dag_split\)/, 'PICAS_DEPENDS_ON in the command environment');
});

test('the pilot that completes a token takes the dependent it releases (one write: released and claimed); spare dependents go to todo', async () => {
  const db = await dagDatabase('take');
  const dir = tempDir();
  // a chain a -> b -> c, and a fan-out f -> g1, g2, g3
  writeFileSync(
    join(dir, 'wf.yaml'),
    ['- id: a\n  input: echo a', '- id: b\n  depends_on: [a]\n  input: echo b', '- id: c\n  depends_on: [b]\n  input: echo c', '- id: f\n  input: echo f']
      .concat([1, 2, 3].map((i) => `- id: g${i}\n  depends_on: [f]\n  input: echo g${i}`))
      .join('\n') + '\n',
  );
  await push(db, dir, 'wf.yaml');
  const pushed = await allTokens(db);
  const r = await worker(db, ['--worker-id', 'solo', '--slots', '1']);
  assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
  assert.match(r.stdout, /done 7, failed 0, requeued 0, lost 0/);
  const summary = JSON.parse(r.stderr.split('\n').filter((l) => l.includes('"summary":true')).at(-1)!);
  // b after a, c after b, and one of f's three dependents (one slot: the other two went to todo)
  assert.equal(summary.taken, 3, `taken: ${summary.taken}`);
  const tokens = await allTokens(db);
  const generation = (doc: TokenDoc) => Number(doc._rev!.split('-')[0]);
  const writes = (id: string) => generation(tokens.get(id)!) - generation(pushed.get(id)!);
  for (const id of ['b', 'c']) {
    const doc = tokens.get(id)!;
    assert.equal(doc.exit_code, 0);
    assert.equal(writes(id), 2, `${id}: taken in the release write, then its result (2 writes, not 3)`);
    assert.ok((doc.events ?? []).some((e) => e.event === 'released'), `${id} records its release`);
    assert.ok(doc.started! >= tokens.get(id === 'b' ? 'a' : 'b')!.finished!, `${id} started after its dependency finished`);
  }
  const fan = ['g1', 'g2', 'g3'].map(writes).sort();
  assert.deepEqual(fan, [2, 3, 3], 'one dependent of f taken, two released to todo and claimed from there');
});

test('a pilot with nothing to claim waits while the dependencies of waiting tokens run elsewhere', async (t) => {
  const db = await dagDatabase('waits');
  const dir = tempDir();
  const gate = join(dir, 'gate');
  writeFileSync(join(dir, 'wf.yaml'), `- id: slow\n  input: while [ ! -e '${gate}' ]; do sleep 0.05; done\n- id: next\n  depends_on: [slow]\n  input: echo next\n`);
  await push(db, dir, 'wf.yaml');
  const busy = worker(db, ['--worker-id', 'busy', '--prefetch', '1']);
  t.after(() => busy.kill('SIGKILL'));
  await waitFor(async () => (await getToken(db.couch, 'slow')).lock > 0, { what: 'the slow token to be claimed' });
  const idle = worker(db, ['--worker-id', 'idle', '--prefetch', '1']);
  t.after(() => idle.kill('SIGKILL'));
  let stderr = '';
  idle.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor(() => /1 token\(s\) wait for dependencies that still run/.test(stderr), { what: 'the idle pilot to wait', timeoutMs: 60_000 });
  assert.equal(idle.exitCode, null, 'the idle pilot is still there');
  writeFileSync(gate, '');
  const [b, i] = await Promise.all([busy, idle]);
  assert.equal(b.exitCode, 0, b.stderr.slice(-2000));
  assert.equal(i.exitCode, 0, i.stderr.slice(-2000));
  const next = await getToken(db.couch, 'next');
  assert.equal(next.exit_code, 0);
  assert.ok(next.started! >= (await getToken(db.couch, 'slow')).finished!);
});

test('a failing step blocks the merge (with an event naming it); picas retry unblocks it and the merge runs', async () => {
  const db = await dagDatabase('failing');
  const dir = tempDir();
  const marker = join(dir, 'failed-once');
  writeFileSync(
    join(dir, 'wf.jsonl'),
    [
      { id: 'a', input: 'echo a' },
      { id: 'b1', input: 'echo b1', depends_on: ['a'] },
      { id: 'b2', input: `if [ ! -e '${marker}' ]; then touch '${marker}'; exit 3; fi; echo b2`, depends_on: ['a'] },
      { id: 'm', input: 'echo merge', depends_on: ['b1', 'b2'] },
      { id: 'after_m', input: 'echo after', depends_on: ['m'] },
    ]
      .map((t) => JSON.stringify(t))
      .join('\n'),
  );
  await push(db, dir, 'wf.jsonl');
  const first = await worker(db, ['--worker-id', 'first']);
  assert.equal(first.exitCode, 0, first.stderr.slice(-2000));
  let tokens = await allTokens(db);
  assert.equal(tokens.get('b2')!.exit_code, 3);
  const m = tokens.get('m')!;
  assert.equal(m.lock, -1);
  assert.equal(m.blocked_by!.id, 'b2');
  // the failed pilot names the exit code; a sibling that finished after it and found b2 failed says "failed"
  assert.match(m.blocked_by!.reason, /^dependency b2 failed( \(exit code 3\))?$/);
  assert.ok(m.events!.some((e) => e.event === 'blocked' && /b2/.test(e.message!)), 'an event names the failed dependency');
  assert.equal(tokens.get('after_m')!.blocked_by!.id, 'b2', 'blocked down the chain, naming the root');
  const status = JSON.parse((await runCli(['status', '--json'], { env: db.env })).stdout);
  assert.deepEqual([status.done, status.error, status.blocked, status.waiting], [2, 1, 2, 0]);

  const wrong = await runCli(['retry', 'm'], { env: db.env });
  assert.match(wrong.stdout, /skipped m: blocked by b2: retry b2/);
  const retry = await runCli(['retry', 'b2'], { env: db.env });
  assert.equal(retry.exitCode, 0, retry.stderr);
  assert.match(retry.stdout, /2 blocked dependent tokens waiting again: /);
  tokens = await allTokens(db);
  assert.equal(tokens.get('m')!.blocked_by, undefined);
  assert.equal(tokens.get('m')!.lock, -1, 'waiting again');

  const second = await worker(db, ['--worker-id', 'second']);
  assert.equal(second.exitCode, 0, second.stderr.slice(-2000));
  tokens = await allTokens(db);
  for (const id of ['b2', 'm', 'after_m']) assert.equal(tokens.get(id)!.exit_code, 0, `${id} done`);
  assert.ok(tokens.get('m')!.started! >= tokens.get('b2')!.finished!);
});

/**
 * Pushes `workflow` and runs a pilot that SIGKILLs itself right after writing the first parent's result, before
 * the release (the test-only hook): its dependents are left waiting.
 */
async function strandAfterCompletion(db: TestDatabase, workflow: string): Promise<void> {
  const dir = tempDir();
  writeFileSync(join(dir, 'wf.yaml'), workflow);
  await push(db, dir, 'wf.yaml');
  const doomed = await worker(db, ['--worker-id', 'doomed'], { env: { PICAS_TEST_KILL_AFTER_COMPLETION: '1' } });
  assert.equal(doomed.signal, 'SIGKILL');
}

test('a pilot killed -9 right after completing a parent: another pilot releases the dependents', async () => {
  const db = await dagDatabase('killed');
  await strandAfterCompletion(db, '- id: parent\n  input: echo parent\n- id: child_1\n  depends_on: [parent]\n  input: echo child 1\n- id: child_2\n  depends_on: [parent]\n  input: echo child 2\n');
  const parent = await getToken(db.couch, 'parent');
  assert.equal(parent.exit_code, 0);
  assert.equal(parent.worker_id, 'doomed');
  assert.equal((await getToken(db.couch, 'child_1')).lock, -1, 'stranded: still waiting');

  const rescuer = await worker(db, ['--worker-id', 'rescuer']);
  assert.equal(rescuer.exitCode, 0, rescuer.stderr.slice(-2000));
  for (const id of ['child_1', 'child_2']) {
    const child = await getToken(db.couch, id);
    assert.equal(child.exit_code, 0, `${id} ran`);
    assert.equal(child.attempts, 1);
    const released = child.events!.find((e) => e.event === 'released');
    assert.equal(released?.worker_id, 'rescuer');
  }
});

test('a sweep that fails (the waiting view answers 500 under load) does not make the pilot leave while tokens wait: it looks again', async () => {
  const db = await dagDatabase('sweepfail');
  await strandAfterCompletion(db, '- id: up\n  input: echo up\n- id: down\n  depends_on: [up]\n  input: echo down\n');
  assert.equal((await getToken(db.couch, 'down')).lock, -1, 'stranded: still waiting');
  // the sweep's read of picas_deps/waiting fails three times, as a view read timing out on a loaded server does
  let refused = 0;
  const proxy = await startProxy(db.config.url, { reject: (req) => (/\/_design\/picas_deps\/_view\/waiting\?/.test(req.url ?? '') && refused++ < 3 ? 500 : undefined) });
  const r = await worker(db, ['--worker-id', 'patient'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
  assert.ok(refused >= 3, `the sweep failed ${refused} times`);
  assert.match(r.stderr, /sweeping waiting tokens failed; will retry later/);
  const down = await getToken(db.couch, 'down');
  assert.equal(down.exit_code, 0, 'the waiting token was released and ran');
  assert.match(r.stdout, /done 1,/);
});

test('a take whose answer was lost (the server applied it, the connection dropped) is withdrawn and the dependent runs once', async () => {
  const db = await dagDatabase('losttake');
  const dir = tempDir();
  const ledger = join(dir, 'ran.txt');
  writeFileSync(join(dir, 'wf.yaml'), `- id: first\n  input: echo first >> '${ledger}'\n- id: second\n  depends_on: [first]\n  input: echo second >> '${ledger}'\n`);
  await push(db, dir, 'wf.yaml');
  // the first PUT of the dependent is the take (released and claimed at once): its answer never comes back
  let puts = 0;
  const proxy = await startProxy(db.config.url, { dropAnswer: (req) => req.method === 'PUT' && /\/second(\?|$)/.test(req.url ?? '') && ++puts === 1 });
  const r = await worker(db, ['--worker-id', 'solo', '--slots', '1'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
  assert.ok(puts >= 1, 'the take was sent');
  assert.deepEqual(readFileSync(ledger, 'utf8').trim().split('\n'), ['first', 'second'], 'each ran once, in order');
  const second = await getToken(db.couch, 'second');
  assert.equal(second.exit_code, 0);
  assert.ok((second.events ?? []).some((e) => /got no clear answer .* withdrawn/.test(e.message ?? '')), `withdrawn, then claimed again: ${JSON.stringify(second.events)}`);
  const summary = JSON.parse(r.stderr.split('\n').filter((l) => l.includes('"summary":true')).at(-1)!);
  assert.equal(summary.unconfirmed.withdrawn, 1);
});

test('picas repair releases waiting tokens whose dependencies are done', async () => {
  const db = await dagDatabase('repair');
  const dir = tempDir();
  writeFileSync(join(dir, 'wf.yaml'), '- id: p\n  input: echo p\n- id: c\n  depends_on: [p]\n  input: echo c\n');
  await push(db, dir, 'wf.yaml');
  const doomed = await worker(db, ['--worker-id', 'doomed'], { env: { PICAS_TEST_KILL_AFTER_COMPLETION: '1' } });
  assert.equal(doomed.signal, 'SIGKILL');
  assert.equal((await getToken(db.couch, 'c')).lock, -1);
  const repair = await runCli(['repair'], { env: db.env });
  assert.equal(repair.exitCode, 0, repair.stderr);
  assert.match(repair.stdout, /waiting tokens: 1 released, 0 blocked, 0 still waiting/);
  const c = await getToken(db.couch, 'c');
  assert.equal(c.lock, 0);
  assert.equal(c.done, 0);
});

test('picas repair keeps a waiting token with conflicting revisions waiting (todo would run it too early)', async () => {
  const db = await dagDatabase('repair-conflict');
  const dir = tempDir();
  writeFileSync(join(dir, 'wf.yaml'), '- id: p\n  input: echo p\n- id: c\n  depends_on: [p]\n  input: echo c\n');
  await push(db, dir, 'wf.yaml');
  await injectConflict(db.couch, 'c', (doc) => ({ ...doc, note: 'another replica' }));
  assert.equal((await getToken(db.couch, 'c'))._conflicts?.length, 1);
  const repair = await runCli(['repair'], { env: db.env });
  assert.equal(repair.exitCode, 0, repair.stderr);
  assert.match(repair.stdout, /repaired c: 1 losing revision\(s\) deleted, now waiting/);
  const c = await getToken(db.couch, 'c');
  assert.equal(c._conflicts, undefined);
  assert.equal(c.lock, -1);
  assert.equal(c.done, 0);
});
