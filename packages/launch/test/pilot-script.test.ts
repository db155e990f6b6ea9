/**
 * The pilot script template: its directives, its validation, the shipped example, and what the script
 * does when bash runs it (env file, slots, exec of the worker with its arguments).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { UsageError } from '@picas/core';
import { repoRoot, scratchDir } from '@picas/testkit';
import { EXAMPLE_PILOT_SCRIPT_OPTIONS, pilotScriptProblems, renderPilotScript, writeEnvFile } from '@picas/launch';

test('the directives follow the options', () => {
  const script = renderPilotScript({ jobName: 'fract', array: '1-100%10', time: '2-00:00:00', partition: 'thin', account: 'proj1', cpusPerTask: 4, output: 'logs/p-%A_%a.out', error: 'logs/p-%A_%a.err', extraDirectives: ['--qos=short', '#SBATCH --mem=2G'] });
  const directives = script.split('\n').filter((l) => l.startsWith('#SBATCH'));
  assert.deepEqual(directives, [
    '#SBATCH --job-name=fract',
    '#SBATCH --array=1-100%10',
    '#SBATCH --time=2-00:00:00',
    '#SBATCH --cpus-per-task=4',
    '#SBATCH --partition=thin',
    '#SBATCH --account=proj1',
    '#SBATCH --output=logs/p-%A_%a.out',
    '#SBATCH --error=logs/p-%A_%a.err',
    '#SBATCH --qos=short',
    '#SBATCH --mem=2G',
  ]);
  assert.ok(script.startsWith('#!/bin/bash\n'));
  // without an array, the log is named after the job id
  assert.match(renderPilotScript({}), /^#SBATCH --output=picas-pilot-%j\.out$/m);
  assert.match(renderPilotScript({}), /^#SBATCH --job-name=picas-pilot$/m);
});

test('bad options are all reported at once, each naming its flag, and nothing can inject shell code', () => {
  const bad = { jobName: 'x\nrm -rf ~', array: '1-', time: '1 hour', partition: 'a b', cpusPerTask: 0, output: 'out $(id).log', extraDirectives: ['--wrap=`id`'] };
  const problems = pilotScriptProblems(bad);
  for (const flag of ['--job-name', '--array', '--time', '--partition', '--cpus-per-task', '--output', '--sbatch-option']) {
    assert.ok(problems.some((p) => p.startsWith(flag)), `a problem names ${flag}: ${problems.join(' | ')}`);
  }
  assert.throws(() => renderPilotScript(bad), (err: unknown) => err instanceof UsageError && err.problems.length === problems.length);
  for (const time of ['30', '30:00', '01:00:00', '1-12', '1-12:30', '1-12:30:00', 'UNLIMITED']) assert.deepEqual(pilotScriptProblems({ time }), [], time);
  for (const array of ['1-4', '0,3,7', '1-100:2', '1-100%10', '5']) assert.deepEqual(pilotScriptProblems({ array }), [], array);
});

test('the script holds no settings at all: every value comes from the environment', () => {
  const script = renderPilotScript(EXAMPLE_PILOT_SCRIPT_OPTIONS);
  // no assignment of a PICAS_* variable except the log format's default (text: the .out file is read by
  // people); the worker reads the task's CPUs from Slurm itself (docs/resources.md)
  const assignments = script.split('\n').filter((l) => /PICAS_[A-Z_]+=/.test(l) && !l.trim().startsWith('#'));
  assert.deepEqual(assignments, ['export PICAS_LOG_FORMAT="${PICAS_LOG_FORMAT:-text}"']);
  assert.doesNotMatch(script, /https?:\/\//);
});

test('examples/slurm/pilot.sh is exactly the template rendered with its documented options', () => {
  const path = join(repoRoot, 'examples/slurm/pilot.sh');
  const file = readFileSync(path, 'utf8');
  assert.equal(
    file,
    renderPilotScript(EXAMPLE_PILOT_SCRIPT_OPTIONS),
    'examples/slurm/pilot.sh drifted from the template; regenerate it with:\n  picas slurm submit --array 1-4 --time 01:00:00 --cpus-per-task 1 --dry-run > examples/slurm/pilot.sh',
  );
  assert.ok((statSync(path).mode & 0o111) !== 0, 'pilot.sh is executable');
});

test('run by bash, the script sources PICAS_ENV_FILE, leaves the CPUs to the worker and execs it with its arguments', async () => {
  const dir = scratchDir('picas-pilot-script-');
  const scriptPath = join(dir, 'pilot.sh');
  writeFileSync(scriptPath, renderPilotScript(EXAMPLE_PILOT_SCRIPT_OPTIONS));
  // a stand-in "worker" that shows what it received: its arguments and its environment
  const fakeWorker = join(dir, 'show-worker');
  writeFileSync(fakeWorker, '#!/bin/bash\necho "args:$*"\necho "pid:$$"\nenv | grep ^PICAS_ | sort\n', { mode: 0o755 });
  const envFile = join(dir, 'pilot.env');
  const tricky = `pa ss'"$word\`x\``;
  writeEnvFile(envFile, { PICAS_URL: 'http://127.0.0.1:5984', PICAS_PASSWORD: tricky, PICAS_LEASE: '2m' });
  assert.equal(statSync(envFile).mode & 0o777, 0o600);

  const base = { PATH: process.env.PATH, PICAS_WORKER_CMD: fakeWorker };
  const withFile = await execa('bash', [scriptPath, '--max-tokens', '3'], { env: { ...base, PICAS_ENV_FILE: envFile, SLURM_CPUS_PER_TASK: '4' }, extendEnv: false, cwd: dir });
  assert.match(withFile.stdout, /^args:--max-tokens 3$/m);
  assert.match(withFile.stdout, /^PICAS_LEASE=2m$/m);
  assert.doesNotMatch(withFile.stdout, /^PICAS_SLOTS=/m, 'the worker finds SLURM_CPUS_PER_TASK by itself');
  assert.ok(withFile.stdout.includes(`PICAS_PASSWORD=${tricky}\n`), 'the password survives quoting exactly');
  assert.doesNotMatch(withFile.stderr, /warning/);

  // an explicit PICAS_SLOTS is passed on as it is
  const explicit = await execa('bash', [scriptPath], { env: { ...base, PICAS_SLOTS: '2', SLURM_CPUS_PER_TASK: '8' }, extendEnv: false });
  assert.match(explicit.stdout, /^PICAS_SLOTS=2$/m);
  const plainRun = execa('bash', [scriptPath], { env: base, extendEnv: false });
  const plain = await plainRun;
  assert.match(plain.stdout, /^PICAS_LOG_FORMAT=text$/m, 'the pilot log is text unless PICAS_LOG_FORMAT says otherwise');
  // exec: the worker replaces the batch shell (same pid), so Slurm's SIGTERM reaches it directly
  assert.equal(Number(/^pid:(\d+)$/m.exec(plain.stdout)?.[1]), plainRun.pid);

  // an env file others can read is used, with a warning
  writeFileSync(join(dir, 'open.env'), 'PICAS_DB=x\n', { mode: 0o644 });
  const open = await execa('bash', [scriptPath], { env: { ...base, PICAS_ENV_FILE: join(dir, 'open.env') }, extendEnv: false });
  assert.match(open.stderr, /readable by others; chmod 600/);
  assert.match(open.stdout, /^PICAS_DB=x$/m);
});

test('--gpus and --mem become #SBATCH lines; bad values are named', () => {
  const script = renderPilotScript({ cpusPerTask: 8, gpus: 'a100:2', mem: '64G' });
  assert.match(script, /^#SBATCH --cpus-per-task=8\n#SBATCH --gpus=a100:2\n#SBATCH --mem=64G$/m);
  assert.deepEqual(pilotScriptProblems({ gpus: 'two', mem: '12Q' }), [
    "--gpus: 'two' must be a number of GPUs per pilot, or type:number (e.g. 2, a100:1)",
    "--mem: '12Q' must be a size as Slurm reads it (e.g. 16G, 4000M; a plain number is MB)",
  ]);
});
