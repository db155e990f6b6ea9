/**
 * `picas autoscale --backend local` end to end: the real CLI submits real picas-worker processes against
 * the test server. A drain, an unschedulable token, one controller per pool, pause and resume.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { cleanEnv, cliBin, runCli, waitFor } from '@picas/testkit';
import { AUTOSCALER_DOC_ID, type AutoscalerDoc } from '@picas/core';
import { addStateBranch, assertDrainedOnce, autoscalePool, stateDoc, tokenDocs } from './autoscale-pool.js';

const FAST = ['--backend', 'local', '--interval', '1s'];

test('local: 12 tokens of 1 s drain with at most 2 pilots, each token once, exit 0 with no pilot left', async () => {
  const pool = await autoscalePool(import.meta.url, 12, 1);
  // usable walltime per pilot: 40 s - the worker's 30 s budget margin = 10 s, so 12 s of work asks for 2 pilots
  const run = await runCli(['autoscale', ...FAST, '--max-pilots', '2', '--walltime', '00:00:40', '--until-empty', '--log-format', 'text'], { env: pool.db.env, cwd: pool.dir, timeout: 120_000 });
  assert.equal(run.exitCode, 0, run.stderr + run.stdout);
  const lines = run.stdout.trim().split('\n');
  assert.match(lines[0]!, /^todo 12 \(12 s of work\) · pilots 0 running, 0 pending of 2 · submit 2$/);
  assert.match(lines.at(-1)!, /^todo 0 \(0 s of work\) · pilots 0 running, 0 pending of 2 · nothing to do: no work waits$/);
  await assertDrainedOnce(pool);
  const state = await stateDoc(pool);
  assert.ok(state.pilots.length >= 2, JSON.stringify(state.pilots));
  assert.ok(state.pilots.every((p) => p.ended !== undefined && p.backend === 'local'), JSON.stringify(state.pilots));
  assert.equal(state.pilots.reduce((n, p) => n + (p.tokens_run ?? 0), 0), 12, 'the pilot records count every token');
  assert.ok(state.lease_until <= Date.now() / 1000 + 1, 'the lease is given up on exit');
});

test('local: a token longer than the walltime is unschedulable and submits nothing', async () => {
  const pool = await autoscalePool(import.meta.url, 0, 1, [{ id: 'long', input: 'sleep 7200', expected_seconds: 7200 }]);
  const run = await runCli(['autoscale', ...FAST, '--max-pilots', '2', '--walltime', '01:00:00', '--once'], { env: pool.db.env, cwd: pool.dir });
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, /^todo 1 \(0 s of work\) · unschedulable 1 \(expected 7200 s > 3570 s a pilot can give \(walltime 3600 s\)\) · pilots 0 running, 0 pending of 2 · nothing to do: nothing that fits the pilots waits$/);
  assert.deepEqual((await stateDoc(pool)).pilots, []);
  // --json: one object per cycle
  const json = await runCli(['autoscale', ...FAST, '--max-pilots', '2', '--walltime', '01:00:00', '--once', '--json'], { env: pool.db.env, cwd: pool.dir });
  assert.equal(json.exitCode, 0, json.stderr);
  const cycle = JSON.parse(json.stdout) as Record<string, unknown>;
  assert.deepEqual({ todo: cycle.todo, unschedulable: cycle.unschedulable, submit: cycle.submit, demand_s: cycle.demand_s, running: cycle.running, pending: cycle.pending, cap: cycle.cap, paused: cycle.paused }, { todo: 1, unschedulable: 1, submit: 0, demand_s: 0, running: 0, pending: 0, cap: 2, paused: null });
  assert.match(String(cycle.line), /^todo 1 /);
  // --until-empty gives up with 1: only unschedulable work is left
  const until = await runCli(['autoscale', ...FAST, '--max-pilots', '2', '--walltime', '01:00:00', '--until-empty'], { env: pool.db.env, cwd: pool.dir });
  assert.equal(until.exitCode, 1, until.stderr);
  assert.match(until.stderr, /only tokens that no pilot of this walltime and shape can run are left/);
});

test('local: one controller per pool; pause and resume; SIGTERM stops it and its pilots cleanly', async () => {
  const pool = await autoscalePool(import.meta.url, 4, 200);
  const first = execa(process.execPath, [cliBin, 'autoscale', ...FAST, '--max-pilots', '2', '--walltime', '00:05:00', '--stop-grace', '5s'], { env: cleanEnv(pool.db.env), extendEnv: false, cwd: pool.dir, reject: false });
  try {
    await waitFor(async () => (await tokenDocs(pool)).filter((d) => d.lock > 0 && !d.done).length === 2, { timeoutMs: 60_000, what: 'two running tokens' });

    // a second controller, --once included, refuses in one line while the first one's lease lives
    const second = await runCli(['autoscale', ...FAST, '--max-pilots', '2', '--walltime', '00:05:00', '--once'], { env: pool.db.env, cwd: pool.dir });
    assert.equal(second.exitCode, 5, second.stderr);
    assert.match(second.stderr, /^picas: another controller \(\S+:\d+:\w+\) runs on pool \S+; its lease ends in \d+ s/);
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    assert.equal(second.stdout, '');

    const paused = await runCli(['autoscale', 'pause', '--reason', 'maintenance'], { env: pool.db.env });
    assert.equal(paused.exitCode, 0, paused.stderr);
    const status = await runCli(['autoscale', 'status'], { env: pool.db.env });
    assert.equal(status.exitCode, 0, status.stderr);
    assert.match(status.stdout, /^controller: \S+ \(local\), lease for \d+ s more$/m);
    assert.match(status.stdout, /^paused: maintenance \(since .*\); resume with: picas autoscale resume$/m);
    assert.match(status.stdout, /^JOBID\s+BACKEND\s+STATE\s+SHAPE/m);
    assert.match(status.stdout, /^w1\s+local\s+running/m);
    await waitFor(async () => /paused: maintenance/.test((await stateDoc(pool)).last_decision?.line ?? ''), { timeoutMs: 10_000, what: 'a cycle that says it is paused' });

    const resumed = await runCli(['autoscale', 'resume'], { env: pool.db.env });
    assert.equal(resumed.exitCode, 0, resumed.stderr);
    assert.equal((await stateDoc(pool)).paused, undefined);
  } finally {
    first.kill('SIGTERM');
  }
  const end = await first;
  assert.equal(end.exitCode, 143, end.stderr);
  // its local pilots stopped with it and put their tokens back
  const docs = await tokenDocs(pool);
  assert.equal(docs.filter((d) => d.lock > 0 && !d.done).length, 0, `no token left locked: ${end.stderr.slice(-3000)}`);
  // the lease was given up: the next controller starts at once
  const next = await runCli(['autoscale', ...FAST, '--max-pilots', '2', '--walltime', '00:05:00', '--once', '--dry-run'], { env: pool.db.env, cwd: pool.dir });
  assert.equal(next.exitCode, 0, next.stderr);
  assert.match(next.stdout, /dry run: would submit 2$/m);
});

test('local: branches of the state a cluster left (two 202 writes): the controller deletes a losing one, and a winning one of a live controller refuses it', async () => {
  const pool = await autoscalePool(import.meta.url, 0, 1, [{ id: 'long', input: 'sleep 7200', expected_seconds: 7200 }]);
  const once = () => runCli(['autoscale', ...FAST, '--max-pilots', '2', '--walltime', '00:05:00', '--once', '--dry-run'], { env: pool.db.env, cwd: pool.dir });
  assert.equal((await once()).exitCode, 0);
  const http = pool.db.couch.http;
  const withBranches = () => http.expectOk<AutoscalerDoc & { _conflicts?: string[] }>({ path: http.docPath(AUTOSCALER_DOC_ID), query: { conflicts: true } });
  const addBranch = async (rev: string) => addStateBranch(http, { ...(await withBranches()), owner: 'elsewhere:7:abc', lease_until: Math.ceil(Date.now() / 1000) + 300 }, rev);
  const generation = Number((await withBranches())._rev!.split('-')[0]);
  // another controller's write that lost (same generation, lowest hash): ours is the winner, its lease given up
  await addBranch(`${generation}-${'0'.repeat(32)}`);
  assert.equal((await withBranches())._conflicts?.length, 1);
  const run = await once();
  assert.equal(run.exitCode, 0, run.stderr);
  const after = await withBranches();
  assert.equal(after._conflicts, undefined, 'the losing branch is deleted');
  assert.notEqual(after.owner, 'elsewhere:7:abc');
  // another controller's write that won (a later generation), its lease alive: this one refuses
  await addBranch(`${generation + 10}-${'f'.repeat(32)}`);
  const refused = await once();
  assert.equal(refused.exitCode, 5, refused.stderr);
  assert.match(refused.stderr, /^picas: another controller \(elsewhere:7:abc\) runs on pool \S+/);
});
