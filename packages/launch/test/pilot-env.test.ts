/**
 * The pilot environment (connection + worker options as PICAS_* twins), how a pilot finds picas-worker,
 * worker option values from launcher flags, and what a Slurm submission would send: never a secret in a
 * script or on a command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { UsageError, type ConnectionConfig } from '@picas/core';
import { workerSettings } from '@picas/worker/options';
import {
  collectWorkerValues,
  describePilotEnvironment,
  envFileText,
  installedWorkerBin,
  launcherWorkerSettings,
  addWorkerOptionFlags,
  parseSqueue,
  pilotEnvironment,
  planSlurmSubmission,
  resolveWorkerCommand,
} from '@picas/launch';
import { workerBin } from '@picas/testkit';

const PASSWORD = 'hunter2-Secret!';
const connection: ConnectionConfig = { url: 'https://couch.example.org:6984', db: 'tokens', username: 'alice', password: PASSWORD, embedded: false };

test('the pilot env carries the connection and the worker options as their env twins; the password is marked secret', () => {
  const pilot = pilotEnvironment(connection, { lease: '2m', slots: 3, endless: true, tokenTimeout: 90_000 }, { workerCommand: 'node /opt/picas/bin.js' });
  assert.deepEqual(pilot.env, {
    PICAS_URL: 'https://couch.example.org:6984',
    PICAS_DB: 'tokens',
    PICAS_USERNAME: 'alice',
    PICAS_PASSWORD: PASSWORD,
    PICAS_LEASE: '2m',
    PICAS_SLOTS: '3',
    PICAS_ENDLESS: 'true',
    PICAS_TOKEN_TIMEOUT: '90000ms',
    PICAS_WORKER_CMD: 'node /opt/picas/bin.js',
  });
  assert.deepEqual(pilot.secretKeys, ['PICAS_PASSWORD']);
  const shown = describePilotEnvironment(pilot).join('\n');
  assert.match(shown, /^PICAS_PASSWORD=\*\*\*$/m);
  assert.ok(!shown.includes(PASSWORD));
  // no login, no secrets
  assert.deepEqual(pilotEnvironment({ url: 'http://127.0.0.1:5984', db: 'x', embedded: true }).secretKeys, []);
});

test('a Slurm submission puts no secret into the script or onto the sbatch command line', () => {
  const pilot = pilotEnvironment(connection, { lease: '10m' });
  const plan = planSlurmSubmission({ script: { array: '1-4', time: '01:00:00' }, pilot });
  assert.ok(!plan.scriptText.includes(PASSWORD));
  assert.ok(!plan.scriptText.includes('couch.example.org'), 'not even the URL is written into the script');
  assert.ok(!plan.sbatchArgs.join(' ').includes(PASSWORD));
  assert.deepEqual(plan.sbatchArgs, ['--parsable', '--export=ALL']);
  assert.ok(plan.exportedDescription.includes('PICAS_PASSWORD=***'));
  assert.deepEqual(plan.exportedNames, ['PICAS_URL', 'PICAS_DB', 'PICAS_LEASE', 'PICAS_USERNAME', 'PICAS_PASSWORD']);
  // with an env file, only its path travels
  const viaFile = planSlurmSubmission({ script: {}, pilot, envFile: '/home/alice/.picas/pilot.env', chdir: '/scratch/run1' });
  assert.deepEqual(viaFile.sbatchArgs, ['--parsable', '--export=ALL', '--chdir=/scratch/run1']);
  assert.deepEqual(viaFile.exportedDescription, ['PICAS_ENV_FILE=/home/alice/.picas/pilot.env']);
});

test('an env file quotes every value for bash and rejects bad names', () => {
  assert.equal(envFileText({ A: "it's", B: 'x y' }).split('\n').slice(1).join('\n'), `A='it'\\''s'\nB='x y'\n`);
  assert.throws(() => envFileText({ 'BAD-NAME': 'x' }), /not an environment variable name/);
});

test('launchers offer every worker option of the table except the per-process worker id', () => {
  assert.deepEqual(
    launcherWorkerSettings.map((s) => s.key),
    workerSettings.map((s) => s.key).filter((k) => k !== 'workerId'),
  );
  const added: string[] = [];
  addWorkerOptionFlags({ option: (flags: string) => added.push(flags) });
  assert.ok(added.includes('--lease <duration>'));
  assert.ok(added.includes('--slots <n>'));
  assert.ok(added.includes('--on-signal <requeue|fail>'));
  assert.ok(added.includes('--endless'));
  assert.ok(added.includes('--reclaim-expired') && added.includes('--no-reclaim-expired'));
  assert.ok(!added.some((f) => f.startsWith('--worker-id')));
});

test('worker option values are checked like the worker checks them, every problem at once', () => {
  assert.deepEqual(collectWorkerValues({ lease: '2m', slots: '4', reclaimExpired: false, unrelated: 'x', array: '1-4' }), { lease: '2m', slots: '4', reclaimExpired: false });
  assert.throws(
    () => collectWorkerValues({ lease: 'soon', slots: '0', onSignal: 'explode' }),
    (err: unknown) => err instanceof UsageError && err.problems.length === 3 && err.problems.some((p) => p.startsWith('--lease')) && err.problems.some((p) => p.startsWith('--slots')) && err.problems.some((p) => p.startsWith('--on-signal')),
  );
  assert.throws(() => collectWorkerValues({ claimQuorum: 'most' }), /--claim-quorum/);
});

test('how a pilot starts picas-worker: explicit, then PICAS_WORKER_CMD, then this installation, then PATH', () => {
  assert.deepEqual(resolveWorkerCommand({ explicit: '/opt/bin/picas-worker --log-level debug', env: { PICAS_WORKER_CMD: 'other' } }), {
    file: '/opt/bin/picas-worker',
    args: ['--log-level', 'debug'],
    commandLine: '/opt/bin/picas-worker --log-level debug',
    source: 'option',
  });
  assert.equal(resolveWorkerCommand({ env: { PICAS_WORKER_CMD: 'apptainer exec picas.sif picas-worker' } }).source, 'env');
  assert.deepEqual(resolveWorkerCommand({ env: {}, preferPath: true }), { file: 'picas-worker', args: [], commandLine: 'picas-worker', source: 'path' });
  assert.throws(() => resolveWorkerCommand({ explicit: 'picas-worker; rm -rf ~' }), /no quotes or shell syntax/);
  const fromRepo = resolveWorkerCommand({ env: {} });
  if (existsSync(workerBin)) {
    assert.equal(installedWorkerBin(), workerBin);
    assert.deepEqual(fromRepo, {
      file: process.execPath,
      args: ['--max-semi-space-size=8', workerBin],
      commandLine: `${process.execPath} --max-semi-space-size=8 ${workerBin}`,
      source: 'installation',
    });
  } else {
    assert.equal(fromRepo.source, 'path');
  }
});

test('squeue lines become jobs', () => {
  const jobs = parseSqueue('12_1|12|picas-pilot|RUNNING|0:05|1:00:00|node1\n12_[2-4]|12|picas-pilot|PENDING|0:00|1:00:00|(Resources)\n\n');
  assert.equal(jobs.length, 2);
  assert.deepEqual(jobs[1], { jobId: '12_[2-4]', arrayJobId: '12', name: 'picas-pilot', state: 'PENDING', elapsed: '0:00', timeLimit: '1:00:00', where: '(Resources)' });
});
