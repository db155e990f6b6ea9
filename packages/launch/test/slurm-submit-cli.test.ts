/**
 * `picas slurm submit` without a cluster: --dry-run shows exactly the shipped template and the variables
 * (names, secrets masked), worker options travel as env twins, bad options are all reported at once,
 * the autopilot submits nothing for an empty pool, and a missing sbatch is a clear external error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runCli, scratchDir } from '@picas/testkit';
import { tokenPool } from './token-pool.js';

const PASSWORD_HINT = 'the password never appears in any output';

test('--dry-run prints examples/slurm/pilot.sh exactly, and the variable names with the password masked', async () => {
  const db = await tokenPool(import.meta.url);
  const password = db.env.PICAS_PASSWORD!;
  const run = await runCli(['slurm', 'submit', '--array', '1-4', '--time', '01:00:00', '--cpus-per-task', '1', '--dry-run'], { env: db.env });
  assert.equal(run.exitCode, 0, run.stderr);
  // (execa strips the final newline of stdout)
  assert.equal(run.stdout + '\n', readFileSync(join(repoRoot, 'examples/slurm/pilot.sh'), 'utf8'));
  assert.match(run.stderr, /nothing submitted/);
  assert.match(run.stderr, /sbatch --parsable --export=ALL </);
  assert.match(run.stderr, /^# {3}PICAS_URL=/m);
  assert.match(run.stderr, /^# {3}PICAS_PASSWORD=\*\*\*$/m);
  assert.match(run.stderr, new RegExp(`^# {3}PICAS_DB=${db.config.db}$`, 'm'));
  assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), PASSWORD_HINT);
});

test('worker options given to submit reach the pilots as their PICAS_* twins', async () => {
  const db = await tokenPool(import.meta.url);
  const run = await runCli(
    ['slurm', 'submit', '--array', '1-2', '--dry-run', '--lease', '2m', '--slots', '2', '--token-timeout', '1h', '--no-reclaim-expired', '--on-signal', 'fail', '--worker-command', '/opt/picas/bin/picas-worker'],
    { env: db.env },
  );
  assert.equal(run.exitCode, 0, run.stderr);
  for (const line of ['PICAS_LEASE=2m', 'PICAS_SLOTS=2', 'PICAS_TOKEN_TIMEOUT=1h', 'PICAS_RECLAIM_EXPIRED=false', 'PICAS_ON_SIGNAL=fail', 'PICAS_WORKER_CMD=/opt/picas/bin/picas-worker']) {
    assert.match(run.stderr, new RegExp(`^# {3}${line}$`, 'm'), line);
  }
  // and nothing of it is in the script
  assert.doesNotMatch(run.stdout, /PICAS_LEASE=|=2m|\/opt\/picas/);
});

test('with --pilot-env-file only the file\'s path travels; a dry run does not write it', async () => {
  const db = await tokenPool(import.meta.url);
  const dir = scratchDir('picas-envfile-');
  const envFile = join(dir, 'pilot.env');
  const run = await runCli(['slurm', 'submit', '--array', '1-2', '--dry-run', '--pilot-env-file', envFile], { env: db.env });
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stderr, /--export=ALL /);
  assert.match(run.stderr, new RegExp(`^# {3}PICAS_ENV_FILE=${envFile}$`, 'm'));
  assert.match(run.stderr, /^# {3}PICAS_PASSWORD=\*\*\*$/m);
  assert.ok(!run.stderr.includes(db.env.PICAS_PASSWORD!), PASSWORD_HINT);
  assert.ok(!existsSync(envFile));
});

test('bad submit options are all reported at once, each naming its flag', async () => {
  const db = await tokenPool(import.meta.url);
  const run = await runCli(
    ['slurm', 'submit', '--array', '1-', '--time', '1 hour', '--cpus-per-task', '2', '--job-name', 'a;b', '--slots', '0', '--prefetch', 'lots', '--claim-quorum', 'x', '--dry-run'],
    { env: db.env },
  );
  assert.equal(run.exitCode, 1);
  // worker options are checked first (as the worker checks them), then the job options
  assert.match(run.stderr, /invalid worker options \(3 problems\)/);
  for (const flag of ['--slots', '--prefetch', '--claim-quorum']) assert.match(run.stderr, new RegExp(`- ${flag} \\(from ${flag}\\)`), flag);
  const job = await runCli(['slurm', 'submit', '--array', '1-', '--time', '1 hour', '--job-name', 'a;b', '--dry-run'], { env: db.env });
  assert.equal(job.exitCode, 1);
  for (const flag of ['--array', '--time', '--job-name']) assert.match(job.stderr, new RegExp(`- ${flag}:`), flag);
  const cpus = await runCli(['slurm', 'submit', '--cpus-per-task', 'many', '--dry-run'], { env: db.env });
  assert.equal(cpus.exitCode, 1);
  assert.match(cpus.stderr, /--cpus-per-task: 'many'/);
});

test('--only-if-todo (the autopilot) submits nothing when no token waits, and submits when one does', async () => {
  const db = await tokenPool(import.meta.url);
  // no sbatch on PATH: had it tried to submit, this would fail with exit 6
  const env = { ...db.env, PATH: '/nonexistent' };
  const empty = await runCli(['slurm', 'submit', '--array', '1-4', '--only-if-todo'], { env });
  assert.equal(empty.exitCode, 0, empty.stderr);
  assert.equal(empty.stdout, '');
  assert.match(empty.stderr, /no tokens waiting .* nothing submitted/);

  const { addTokens } = await import('./token-pool.js');
  await addTokens(db.couch, [{ id: 'waiting', input: 'true' }]);
  const some = await runCli(['slurm', 'submit', '--array', '1-4', '--only-if-todo', '--dry-run'], { env });
  assert.equal(some.exitCode, 0, some.stderr);
  assert.match(some.stderr, /1 token in todo: submitting/);
  assert.match(some.stdout, /^#SBATCH --array=1-4$/m);
});

test('--only-if-todo counts a locked token whose lease expired (its pilot died), unless the pilots will not reclaim it', async () => {
  const now = Math.floor(Date.now() / 1000);
  const db = await tokenPool(import.meta.url, [{ id: 'orphan', input: 'true', fields: { lock: now - 600, lease_until: now - 60, hostname: 'gone' } }]);
  const env = { ...db.env, PATH: '/nonexistent' };
  const some = await runCli(['slurm', 'submit', '--array', '1-2', '--only-if-todo', '--dry-run'], { env });
  assert.equal(some.exitCode, 0, some.stderr);
  assert.match(some.stderr, /0 tokens in todo, 1 expired lease\(s\): submitting/);
  assert.match(some.stdout, /^#SBATCH --array=1-2$/m);

  const none = await runCli(['slurm', 'submit', '--array', '1-2', '--only-if-todo', '--no-reclaim-expired'], { env });
  assert.equal(none.exitCode, 0, none.stderr);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /no tokens waiting .* nothing submitted/);
});

test('without sbatch, submit fails with exit 6 and says how to get Slurm', async () => {
  const db = await tokenPool(import.meta.url, [{ id: 'a', input: 'true' }]);
  const run = await runCli(['slurm', 'submit', '--array', '1-2'], { env: { ...db.env, PATH: '/nonexistent' } });
  assert.equal(run.exitCode, 6, run.stderr);
  assert.match(run.stderr, /sbatch not found/);
  assert.match(run.stderr, /setup-slurm\.sh/);
});

test('both launcher commands offer every worker option of the table', async () => {
  const { launcherWorkerSettings } = await import('@picas/launch');
  for (const command of [['launch', 'local'], ['slurm', 'submit']]) {
    const help = await runCli([...command, '--help']);
    assert.equal(help.exitCode, 0, help.stderr);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const spec of launcherWorkerSettings) {
      assert.ok(text.includes(` ${spec.flag} `) && text.includes(`(env ${spec.env[0]}`), `${command.join(' ')} offers ${spec.flag}`);
    }
  }
});
