/**
 * Pilots on a real Slurm (the single-node cluster from scripts/setup-slurm.sh): `picas slurm submit`
 * array jobs drain a pool; scancel puts running tokens back to todo; a pilot with `--time 1` stops
 * claiming before its end. The pilots are real sbatch jobs running the real picas-worker against the
 * test server (127.0.0.1, reachable from this node).
 *
 * Without Slurm these tests skip with a message saying how to enable them; with PICAS_REQUIRE_SLURM=1
 * (as in CI) they fail instead.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { realSlurm, runCli, waitForSlurmJobEnd, waitFor, workerBin, processAlive, scratchDir } from '@picas/testkit';
import { allTokens, tokenPool, tokensByState } from './token-pool.js';

const slurm = await realSlurm([workerBin]);
const skip = slurm.skip;

async function submit(args: string[], env: Record<string, string>, cwd?: string): Promise<string> {
  const run = await runCli(['slurm', 'submit', ...args], { env, cwd });
  assert.equal(run.exitCode, 0, run.stderr);
  const jobId = run.stdout.trim();
  assert.match(jobId, /^\d+$/, `submit prints the job id, got '${run.stdout}'`);
  slurm.track(jobId);
  return jobId;
}

describe('pilots on a real Slurm', { skip }, () => {
  test('picas slurm submit --array 1-4: four pilots drain 40 tokens to done, each exactly once', async () => {
    const dir = scratchDir('picas-slurm-drain-');
    const ledger = join(dir, 'ledger.txt');
    const tokens = Array.from({ length: 40 }, (_, i) => ({ id: `drain${String(i).padStart(2, '0')}`, input: `sleep 0.2; echo "$PICAS_TOKEN_ID" >> ${ledger}` }));
    const db = await tokenPool(import.meta.url, tokens);
    const password = db.env.PICAS_PASSWORD!;
    const envFile = join(dir, 'secrets', 'pilot.env');
    mkdirSync(join(dir, 'secrets'), { mode: 0o700 });

    // settings through a 0600 env file; the job runs in --chdir, not where picas was started
    const jobId = await submit(['--array', '1-4', '--time', '5:00', '--chdir', dir, '--pilot-env-file', envFile, '--lease', '1m'], db.env);
    const states = await waitForSlurmJobEnd(jobId, 4);
    assert.deepEqual(Object.values(states), ['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED'], JSON.stringify(states));

    const byState = await tokensByState(db.couch);
    assert.equal(byState.done.length, 40, JSON.stringify(byState));
    assert.deepEqual(readFileSync(ledger, 'utf8').trim().split('\n').sort(), tokens.map((t) => t.id));
    // PiCaS' job-id field: <array job>_<task>
    for (const doc of await allTokens(db.couch)) assert.match(String(doc.slurm_job_id), new RegExp(`^${jobId}_[1-4]$`), doc._id);

    // the secret stayed in the 0600 file: not in the submitted script, not in the pilots' logs
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    const script = await execa('scontrol', ['write', 'batch_script', jobId, '-']);
    assert.match(script.stdout, /^#SBATCH --array=1-4$/m);
    assert.ok(!script.stdout.includes(password), 'no password in the submitted script');
    const logs = readdirSync(dir).filter((f) => f.startsWith(`picas-pilot-${jobId}_`)).sort();
    assert.deepEqual(logs, [1, 2, 3, 4].map((i) => `picas-pilot-${jobId}_${i}.out`));
    for (const log of logs) {
      const text = readFileSync(join(dir, log), 'utf8');
      assert.ok(!text.includes(password), `no password in ${log}`);
      assert.match(text, /picas-worker .*done \d+/, `${log} has the worker's summary`);
    }

    const status = await runCli(['slurm', 'status', '--jobs', jobId, '--all'], { env: db.env });
    assert.equal(status.exitCode, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`tokens in ${db.config.db}: todo 0, locked 0, done 40, error 0`));
    assert.match(status.stdout, /4 completed/);
    assert.match(status.stdout, new RegExp(`^\\s+${jobId}_1\\s+picas-pilot\\s+COMPLETED`, 'm'));
  });

  test('a pilot submitted with --cpus-per-task 2 finds 2 cpus by itself and runs a 2-cpu token', async () => {
    const dir = scratchDir('picas-slurm-cpus-');
    const tokens = [{ id: 'two_cpus', input: 'echo "$PICAS_CPUS $OMP_NUM_THREADS"', fields: { resources: { cpus: 2, gpus: 0, mem: 0 } } }];
    const db = await tokenPool(import.meta.url, tokens);
    const jobId = await submit(['--time', '5:00', '--cpus-per-task', '2', '--chdir', dir], db.env);
    const states = await waitForSlurmJobEnd(jobId, 1);
    assert.deepEqual(Object.values(states), ['COMPLETED'], JSON.stringify(states));
    const script = await execa('scontrol', ['write', 'batch_script', jobId, '-']);
    assert.match(script.stdout, /^#SBATCH --cpus-per-task=2$/m);
    const log = readFileSync(join(dir, `picas-pilot-${jobId}.out`), 'utf8');
    assert.match(log, /resources: 2 cpus \(SLURM_CPUS_PER_TASK\)/, log.slice(0, 3000));
    assert.deepEqual((await tokensByState(db.couch)).done, ['two_cpus']);
  });

  test('an sbatch error becomes exit 6 with sbatch\'s own message', async () => {
    const db = await tokenPool(import.meta.url, [{ id: 'a', input: 'true' }]);
    const run = await runCli(['slurm', 'submit', '--array', '1-2', '--partition', 'no-such-partition'], { env: db.env });
    assert.equal(run.exitCode, 6, run.stderr);
    assert.match(run.stderr, /sbatch exited 1: .*partition/i);
    assert.ok(!run.stderr.includes(db.env.PICAS_PASSWORD!));
  });

  test('scancel during a run puts the running tokens back to todo and stops their commands', async () => {
    const dir = scratchDir('picas-slurm-cancel-');
    const tokens = [1, 2, 3].map((i) => ({ id: `long${i}`, input: `echo $$ > ${dir}/$PICAS_TOKEN_ID.pid; exec sleep 300` }));
    const db = await tokenPool(import.meta.url, tokens);
    const jobName = `picas-cancel-${randomBytes(3).toString('hex')}`;
    const jobId = await submit(['--array', '1-2', '--time', '5:00', '--job-name', jobName], db.env, dir);

    await waitFor(async () => (await tokensByState(db.couch)).locked.length === 2, { timeoutMs: 60_000, what: 'two running tokens' });
    const running = (await tokensByState(db.couch)).locked;
    await waitFor(() => running.every((id) => existsSync(join(dir, `${id}.pid`))), { timeoutMs: 30_000, what: 'the token commands to start' });
    const pids = running.map((id) => Number(readFileSync(join(dir, `${id}.pid`), 'utf8')));

    // one task with plain scancel, the rest with picas slurm cancel (scancel by job name)
    await execa('scancel', [`${jobId}_1`]);
    const cancel = await runCli(['slurm', 'cancel', '--job-name', jobName], { env: db.env });
    assert.equal(cancel.exitCode, 0, cancel.stderr);
    const states = await waitForSlurmJobEnd(jobId, 2, 90_000);
    assert.deepEqual(Object.values(states), ['CANCELLED', 'CANCELLED'], JSON.stringify(states));

    const byState = await tokensByState(db.couch);
    assert.deepEqual(byState.todo.sort(), ['long1', 'long2', 'long3'], JSON.stringify(byState));
    await waitFor(() => pids.every((pid) => !processAlive(pid)), { timeoutMs: 15_000, what: 'the token commands to exit' });
    for (const log of readdirSync(dir).filter((f) => f.endsWith('.out'))) {
      assert.match(readFileSync(join(dir, log), 'utf8'), /requeued 1/, `${log}: the pilot put its token back`);
    }
  });

  test('a pilot with --time 1 stops claiming before its end: tokens that no longer fit stay todo', async () => {
    const dir = scratchDir('picas-slurm-time-');
    const tokens = [
      ...Array.from({ length: 6 }, (_, i) => ({ id: `fits${i}`, input: 'sleep 8', fields: { expected_seconds: 8 } })),
      { id: 'toolong1', input: 'true', fields: { expected_seconds: 600 } },
      { id: 'toolong2', input: 'true', fields: { expected_seconds: 600 } },
    ];
    const db = await tokenPool(import.meta.url, tokens);
    const jobId = await submit(['--time', '1'], db.env, dir);
    const states = await waitForSlurmJobEnd(jobId, 1);
    // it ended by itself before the limit, not killed by Slurm at it
    assert.deepEqual(Object.values(states), ['COMPLETED'], JSON.stringify(states));

    const byState = await tokensByState(db.couch);
    assert.equal(byState.locked.length, 0, JSON.stringify(byState));
    assert.equal(byState.error.length, 0, JSON.stringify(byState));
    assert.ok(byState.todo.includes('toolong1') && byState.todo.includes('toolong2'), JSON.stringify(byState));
    assert.ok(byState.done.length >= 1, `it ran what fitted: ${JSON.stringify(byState)}`);
    assert.ok(byState.todo.some((id) => id.startsWith('fits')), `8 s tokens stopped fitting before the 60 s were up: ${JSON.stringify(byState)}`);
    const log = readFileSync(join(dir, `picas-pilot-${jobId}.out`), 'utf8');
    assert.match(log, /does not fit in the time left/);
  });
});
