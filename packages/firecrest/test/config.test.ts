// FirecREST settings (flags > env > .env, every problem at once) and the pilot state file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { UsageError } from '@picas/core';
import { addPilots, loadFirecrestConfig, readPilots, resolveFirecrestConfig, updatePilots, writePilots, type SubmittedPilot } from '../src/index.js';
import { scratchDir } from '@picas/testkit';

const full = {
  FIRECREST_URL: 'https://firecrest.example.org/v2',
  AUTH_TOKEN_URL: 'https://auth.example.org/token',
  FIRECREST_CLIENT_ID: 'env-client',
  FIRECREST_CLIENT_SECRET: 'env-secret',
  FIRECREST_SYSTEM: 'daint',
};

test('every missing setting is reported at once, by the names users know', () => {
  const { config, errors } = resolveFirecrestConfig({ env: {} }, { requireSystem: true });
  assert.equal(config, undefined);
  assert.deepEqual(errors.map((e) => e.split(' ')[0]), ['FIRECREST_URL', 'AUTH_TOKEN_URL', 'FIRECREST_CLIENT_ID', 'FIRECREST_CLIENT_SECRET', 'FIRECREST_SYSTEM']);
  assert.throws(() => loadFirecrestConfig({ env: {} }), (err: unknown) => err instanceof UsageError && err.problems.length === 4 && err.exitCode === 1);
  // one problem: the message is the problem itself
  assert.throws(() => loadFirecrestConfig({ env: { ...full, FIRECREST_CLIENT_SECRET: undefined } }), /^UsageError: FIRECREST_CLIENT_SECRET is not set/);
});

test('a bad value is named with where it came from, once', () => {
  const { errors } = resolveFirecrestConfig({ env: { ...full, FIRECREST_URL: 'not a url', FIRECREST_SYSTEM: 'bad name' } }, { requireSystem: true });
  assert.deepEqual(errors, [
    '--firecrest-url (from env FIRECREST_URL): not a valid URL',
    "--system (from env FIRECREST_SYSTEM): 'bad name' is not a system name (letters, digits, . _ -)",
  ]);
});

test('flags win over the environment, which wins over .env', () => {
  const config = loadFirecrestConfig({
    flags: { system: 'flag-system' },
    env: { FIRECREST_CLIENT_ID: 'env-client', FIRECREST_SYSTEM: 'env-system' },
    dotenv: { ...full, FIRECREST_ACCOUNT: 'dotenv-account' },
  });
  assert.deepEqual(config, {
    url: full.FIRECREST_URL,
    tokenUrl: full.AUTH_TOKEN_URL,
    clientId: 'env-client',
    clientSecret: 'env-secret',
    system: 'flag-system',
    account: 'dotenv-account',
  });
  // a dry run needs no credentials
  assert.equal(resolveFirecrestConfig({ env: { FIRECREST_SYSTEM: 'x' } }, { requireSystem: true, credentials: false }).errors.length, 0);
});

test('the pilot state file is 0600, keeps only its own fields, and replaces a pilot submitted again', () => {
  const dir = scratchDir('picas-pilots-');
  const path = join(dir, '.picas', 'firecrest-pilots.json');
  assert.deepEqual(readPilots(path), []);
  const pilot: SubmittedPilot = { jobId: '12', system: 'daint', firecrestUrl: 'https://f', name: 'picas-pilot', workingDirectory: '/scratch/me', submittedAt: new Date().toISOString() };
  addPilots(path, [{ ...pilot, env: { PICAS_PASSWORD: 'hunter2' } } as SubmittedPilot]);
  addPilots(path, [{ ...pilot, jobId: '13' }]);
  addPilots(path, [{ ...pilot, lastState: 'RUNNING' }]);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.ok(!readFileSync(path, 'utf8').includes('hunter2'), 'nothing but the known fields is written');
  assert.deepEqual(readPilots(path).map((p) => [p.jobId, p.lastState]), [['13', undefined], ['12', 'RUNNING']]);

  writeFileSync(path, '{broken');
  assert.throws(() => readPilots(path), (err: unknown) => err instanceof UsageError && err.message.includes(path));
  mkdirSync(join(dir, 'x'));
  writePilots(join(dir, 'x', 'p.json'), []);
  assert.deepEqual(readPilots(join(dir, 'x', 'p.json')), []);
});

test('pilots added by commands running at once are all kept (the list is changed under a lock)', async () => {
  const dir = scratchDir('picas-pilots-');
  const path = join(dir, 'pilots.json');
  const module = new URL('../src/index.js', import.meta.url).href;
  // four processes, each adding 25 pilots one at a time
  const script = `
    const { addPilots } = await import(${JSON.stringify(module)});
    const who = process.argv[1];
    for (let i = 0; i < 25; i++) {
      addPilots(${JSON.stringify(path)}, [{ jobId: who + '-' + i, system: 's', firecrestUrl: 'https://f', name: 'p', workingDirectory: '/w', submittedAt: 'now' }]);
    }`;
  await Promise.all(
    ['a', 'b', 'c', 'd'].map((who) =>
      promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, who]),
    ),
  );
  const ids = readPilots(path).map((p) => p.jobId);
  assert.equal(ids.length, 100, 'no pilot lost');
  assert.equal(new Set(ids).size, 100);
  assert.ok(!existsSync(`${path}.lock`), 'the lock is released');

  // a lock left by a process that no longer exists is taken over; one held by a live process times out clearly
  writeFileSync(`${path}.lock`, '999999999');
  addPilots(path, [{ jobId: 'after-crash', system: 's', firecrestUrl: 'https://f', name: 'p', workingDirectory: '/w', submittedAt: 'now' }]);
  assert.equal(readPilots(path).length, 101);
  writeFileSync(`${path}.lock`, String(process.pid));
  assert.throws(
    () => updatePilots(path, (p) => p, { waitMs: 100 }),
    (err: unknown) => err instanceof UsageError && err.message.includes(`locked by process ${process.pid}`),
  );
});
