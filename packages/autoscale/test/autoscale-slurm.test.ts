/**
 * `picas autoscale --backend slurm` on the real single-node Slurm of scripts/setup-slurm.sh: a drain
 * within the cap (squeue polled while it runs), a partition that does not exist, an unschedulable
 * token, and a controller killed with SIGKILL and started again. Only jobs named after each test's pool
 * are counted or cancelled: other helpers' jobs share this Slurm.
 *
 * Without Slurm these tests skip with a message saying how to enable them; with PICAS_REQUIRE_SLURM=1
 * (as in CI) they fail instead.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { cleanEnv, cliBin, realSlurm, runCli, waitFor, workerBin } from '@picas/testkit';
import { assertDrainedOnce, autoscalePool, stateDoc, tokenDocs, type AutoscalePool } from './autoscale-pool.js';

const { skip } = await realSlurm([workerBin]);

const jobNames: string[] = [];
after(async () => {
  // never leave pilots behind, whatever happened
  for (const name of jobNames) await execa('scancel', [`--name=${name}`, `--user=${process.env.USER ?? ''}`], { reject: false });
});

function jobNameOf(pool: AutoscalePool): string {
  const name = `picas-${pool.db.config.db}`;
  if (!jobNames.includes(name)) jobNames.push(name);
  return name;
}

/** Our unfinished jobs, as squeue shows them. */
async function ourJobs(name: string): Promise<string[]> {
  const r = await execa('squeue', ['-h', `--name=${name}`, '-o', '%i %T'], { reject: false });
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Polls squeue every 200 ms until stopped; the most jobs of ours seen at once, and every job id seen. */
function watchQueue(name: string): { stop: () => Promise<{ most: number; ids: Set<string> }> } {
  let running = true;
  let most = 0;
  const ids = new Set<string>();
  const loop = (async () => {
    while (running) {
      const jobs = await ourJobs(name);
      most = Math.max(most, jobs.length);
      for (const j of jobs) ids.add(j.split(' ')[0]!);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { most, ids };
    },
  };
}

describe('picas autoscale on a real Slurm', { skip }, () => {
  test('60 tokens of 1 s with --max-pilots 3 --until-empty: never more than 3 jobs, each token once, exit 0, no job left', async () => {
    const pool = await autoscalePool(import.meta.url, 60, 1);
    const name = jobNameOf(pool);
    const queue = watchQueue(name);
    // usable per pilot: 50 s - the worker's 30 s margin = 20 s, so 60 s of work asks for 3 pilots
    const run = await runCli(['autoscale', '--backend', 'slurm', '--max-pilots', '3', '--walltime', '00:00:50', '--interval', '1s', '--until-empty', '--chdir', pool.dir], { env: pool.db.env, cwd: pool.dir, timeout: 400_000 });
    const seen = await queue.stop();
    assert.equal(run.exitCode, 0, run.stderr + run.stdout);
    assert.match(run.stdout.split('\n')[0]!, /^todo 60 \(1\.0 min of work\) · pilots 0 running, 0 pending of 3 · submit 3$/);
    assert.ok(seen.most <= 3, `at most 3 jobs at once, saw ${seen.most}`);
    assert.ok(seen.most >= 1, 'squeue showed its jobs');
    await assertDrainedOnce(pool);
    assert.deepEqual(await ourJobs(name), [], 'no job of its own left');
    const state = await stateDoc(pool);
    assert.ok(state.pilots.every((p) => p.ended !== undefined && p.backend === 'slurm'), JSON.stringify(state.pilots));
    assert.equal(new Set(state.pilots.map((p) => p.job_id)).size, state.pilots.length, 'no job recorded twice');
  });

  test('a partition that does not exist (given after --, as sbatch options are) pauses it with the sbatch error in one line, and --until-empty exits non-zero', async () => {
    const pool = await autoscalePool(import.meta.url, 3, 1);
    jobNameOf(pool);
    const run = await runCli(['autoscale', '--backend', 'slurm', '--max-pilots', '2', '--walltime', '00:05:00', '--interval', '1s', '--until-empty', '--', '--partition=no-such-partition'], { env: pool.db.env, cwd: pool.dir });
    assert.equal(run.exitCode, 6, run.stderr + run.stdout);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 1, run.stdout);
    assert.match(lines[0]!, /^todo 3 \(3 s of work\) · pilots 0 running, 0 pending of 2 · paused: submission failed: sbatch exited 1: .*invalid partition.*; resume with: picas autoscale resume$/i);
    assert.ok(!run.stdout.includes(pool.db.env.PICAS_PASSWORD ?? '\0'), 'no password in the output');
    const state = await stateDoc(pool);
    assert.match(state.paused!.reason, /invalid partition/i);
    assert.equal(state.failures.submit_in_row, 1);
    // paused, the next cycle submits nothing and says why
    const again = await runCli(['autoscale', '--backend', 'slurm', '--max-pilots', '2', '--walltime', '00:05:00', '--once'], { env: pool.db.env, cwd: pool.dir });
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /· paused: submission failed: .*; resume with: picas autoscale resume$/);
  });

  test('a token longer than the walltime is reported unschedulable and nothing is submitted', async () => {
    const pool = await autoscalePool(import.meta.url, 0, 1, [{ id: 'long', input: 'sleep 3600', expected_seconds: 3600 }]);
    const name = jobNameOf(pool);
    const run = await runCli(['autoscale', '--backend', 'slurm', '--max-pilots', '2', '--walltime', '00:10:00', '--once'], { env: pool.db.env, cwd: pool.dir });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(run.stdout, /^todo 1 \(0 s of work\) · unschedulable 1 \(expected 3600 s > 570 s a pilot can give \(walltime 600 s\)\) · pilots 0 running, 0 pending of 2 · nothing to do: nothing that fits the pilots waits$/);
    assert.deepEqual(await ourJobs(name), []);
  });

  test('a surplus cancels only pending pilots, after several cycles; the running one finishes its token', async () => {
    // 4-core tokens on 4-core pilots: one pilot fills the node, the others wait in the queue
    const pool = await autoscalePool(import.meta.url, 0, 1, Array.from({ length: 6 }, (_, i) => ({ id: `wide${i}`, input: 'sleep 60', expected_seconds: 60, resources: { cpus: 4 } })));
    const name = jobNameOf(pool);
    const controller = execa(process.execPath, [cliBin, 'autoscale', '--backend', 'slurm', '--max-pilots', '3', '--walltime', '00:02:30', '--cpus-per-task', '4', '--interval', '1s', '--surplus-cycles', '2', '--until-empty', '--chdir', pool.dir], { env: cleanEnv(pool.db.env), extendEnv: false, cwd: pool.dir, reject: false });
    try {
      await waitFor(async () => {
        const jobs = await ourJobs(name);
        const claimed = (await tokenDocs(pool)).some((d) => d.lock > 0 && !d.done);
        return claimed && jobs.some((j) => j.endsWith('PENDING'));
      }, { timeoutMs: 90_000, what: 'a running token and some pending pilots' });
      // the work goes away: only the running token is left
      const del = await runCli(['delete', '--state', 'todo', '--yes'], { env: pool.db.env });
      assert.equal(del.exitCode, 0, del.stderr);
    } catch (err) {
      controller.kill('SIGTERM');
      throw err;
    }
    const end = await controller;
    assert.equal(end.exitCode, 0, end.stderr + end.stdout);
    assert.match(end.stdout, /surplus of \d+ pending for 1 of 2 cycles/);
    assert.match(end.stdout, /cancel \d+ pending \(surplus\)/);
    const state = await stateDoc(pool);
    const cancelled = state.pilots.filter((p) => p.end_reason === 'cancelled by the controller (surplus)');
    assert.ok(cancelled.length >= 1, JSON.stringify(state.pilots));
    assert.ok(cancelled.every((p) => p.started === undefined && (p.tokens_run ?? 0) === 0), `only pending pilots were cancelled: ${JSON.stringify(cancelled)}`);
    const ran = state.pilots.filter((p) => (p.tokens_run ?? 0) > 0);
    assert.ok(ran.length >= 1 && ran.every((p) => p.state === 'completed'), `the running pilot finished its token: ${JSON.stringify(state.pilots)}`);
    assert.deepEqual(await ourJobs(name), []);
  });

  test('SIGKILL and start again: the first one\'s lease refuses the second until it runs out; then nothing is lost and no pilot is doubled', async () => {
    const pool = await autoscalePool(import.meta.url, 30, 1);
    const name = jobNameOf(pool);
    const queue = watchQueue(name);
    const args = ['autoscale', '--backend', 'slurm', '--max-pilots', '2', '--walltime', '00:00:50', '--interval', '1s', '--chdir', pool.dir];
    const first = execa(process.execPath, [cliBin, ...args], { env: cleanEnv(pool.db.env), extendEnv: false, cwd: pool.dir, reject: false });
    await waitFor(async () => (await ourJobs(name)).length === 2, { timeoutMs: 60_000, what: 'two pilots of the first controller' });
    first.kill('SIGKILL');
    await first;
    const before = await stateDoc(pool);

    const refused = await runCli([...args, '--until-empty'], { env: pool.db.env, cwd: pool.dir });
    assert.equal(refused.exitCode, 5, refused.stderr);
    assert.match(refused.stderr, /another controller .* runs on pool/);

    await waitFor(async () => (await stateDoc(pool)).lease_until < Date.now() / 1000, { timeoutMs: 30_000, what: 'the killed controller\'s lease to run out' });
    const second = await runCli([...args, '--until-empty'], { env: pool.db.env, cwd: pool.dir, timeout: 300_000 });
    const seen = await queue.stop();
    assert.equal(second.exitCode, 0, second.stderr + second.stdout);
    assert.ok(seen.most <= 2, `at most 2 jobs at once across both controllers, saw ${seen.most}`);
    await assertDrainedOnce(pool);
    assert.deepEqual(await ourJobs(name), []);
    const after = await stateDoc(pool);
    const ids = after.pilots.map((p) => p.job_id);
    for (const p of before.pilots) assert.ok(ids.includes(p.job_id), `pilot ${p.job_id} of the killed controller is still known`);
    assert.equal(new Set(ids).size, ids.length, 'no pilot recorded twice');
    for (const id of seen.ids) assert.ok(ids.includes(id), `job ${id} seen in squeue is in the state`);
  });
});
