/**
 * Configuration surprises, said once on stderr: a `.env` value that replaces a different one from the
 * config file, a `PICAS_*` variable nobody reads (with the nearest known name), and, when a login fails,
 * where the user name and password came from. Never a password's value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));
assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
const { PICAS_URL: url, PICAS_DB: dbName, PICAS_USERNAME: username, PICAS_PASSWORD: password } = db.env;
const STALE_PASSWORD = 'stale-Pw-in-conf';

/** A directory with these files, used as cwd and HOME (so no real ~/.config/picas/conf.yml is read). */
function project(files: Record<string, string>) {
  const dir = tempDir(files);
  const run = (args: string[], env: Record<string, string | undefined> = {}) => runCli(['--config', join(dir, 'conf.yml'), ...args], { cwd: dir, env: { HOME: dir, ...env } });
  return Object.assign(run, { dir });
}

const count = (text: string, what: RegExp) => text.split('\n').filter((line) => what.test(line)).length;

test('a .env value that replaces a different one from the config file: warned once, naming both sources, never the password', async () => {
  const run = project({
    'conf.yml': `host_url: http://127.0.0.1:9\ndatabase: ${dbName}\nusername: ${username ?? 'nobody'}\npassword: ${STALE_PASSWORD}\n`,
    '.env': `PICAS_URL=${url}\nPICAS_PASSWORD=${password ?? ''}\n`,
  });
  const r = await run(['status']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(count(r.stderr, /^picas: warning: url from .*\/\.env \(PICAS_URL\) replaces a different one from .*\/conf\.yml \(host_url\) \(.* instead of http:\/\/127\.0\.0\.1:9\)/), 1, r.stderr);
  if (password) {
    assert.equal(count(r.stderr, /^picas: warning: password from .*\/\.env \(PICAS_PASSWORD\) replaces a different one from .*\/conf\.yml \(password\); remove one of them$/), 1, r.stderr);
    assert.ok(!r.stderr.includes(password) && !r.stderr.includes(STALE_PASSWORD), 'never a password');
  }
  assert.doesNotMatch(r.stderr, /database|db from/, 'the same value in both: no warning');

  // the environment wins over both: the .env value is not used, so nothing to warn about
  const envWins = await run(['status'], { PICAS_URL: url });
  assert.equal(envWins.exitCode, 0, envWins.stderr);
  assert.doesNotMatch(envWins.stderr, /url from/);
});

test('an unknown PICAS_* variable (env or .env) is warned about once, with the nearest known name', async () => {
  const run = project({ 'conf.yml': '', '.env': 'PICAS_DATABSE=other\nPICAS_SLTOS=4\n' });
  const r = await run(['status'], {
    ...db.env,
    PICAS_PASWORD: 'not-this-one',
    // known: picas-worker options' twins, launcher variables, the test runner's own
    PICAS_LEASE: '10m',
    PICAS_WORKER_CMD: 'picas-worker',
    PICAS_PAGE_SIZE: '100',
    PICAS_TEST_WHATEVER: '1',
  });
  assert.equal(r.exitCode, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((line) => line.startsWith('picas: warning:'));
  const dotenv = join(run.dir, '.env');
  assert.deepEqual(warnings, [
    'picas: warning: PICAS_PASWORD (env) is not a picas setting and is ignored; did you mean PICAS_PASSWORD?',
    `picas: warning: PICAS_DATABSE (${dotenv}) is not a picas setting and is ignored; did you mean PICAS_DATABASE?`,
    `picas: warning: PICAS_SLTOS (${dotenv}) is not a picas setting and is ignored; did you mean PICAS_SLOTS?`,
  ]);
  assert.ok(!r.stderr.includes('not-this-one'), 'never the value');

  const far = await run(['status'], { ...db.env, PICAS_SOMETHING_ELSE_ENTIRELY: '1' });
  assert.match(far.stderr, /^picas: warning: PICAS_SOMETHING_ELSE_ENTIRELY \(env\) is not a picas setting and is ignored$/m, 'no suggestion when nothing is near');
});

test('a failed login says where the user name and password came from (flag, env, .env, config file), never their values', async (t) => {
  if (!username) return t.skip('the test server has no login');
  const wrong = 'Wr0ng-pw-value';
  const base = { PICAS_URL: url, PICAS_DB: dbName };
  const cases: Array<[string, Record<string, string>, string[], Record<string, string | undefined>, RegExp]> = [
    ['env', {}, [], { ...base, PICAS_USERNAME: username, PICAS_PASSWORD: wrong }, /\(user name from env PICAS_USERNAME, password from env PICAS_PASSWORD\)$/],
    ['flag', {}, ['--username', username, '--password', wrong], base, /\(user name from --username, password from --password\)$/],
    ['.env', { '.env': `PICAS_USERNAME=${username}\nPICAS_PASSWORD=${wrong}\n` }, [], base, /\(user name from .*\/\.env \(PICAS_USERNAME\), password from .*\/\.env \(PICAS_PASSWORD\)\)$/],
    ['config file', { 'conf.yml': `username: ${username}\npassword: ${wrong}\n` }, [], base, /\(user name from .*\/conf\.yml \(username\), password from .*\/conf\.yml \(password\)\)$/],
  ];
  for (const [what, files, flags, env, origin] of cases) {
    const run = project({ 'conf.yml': '', ...files });
    const r = await run([...flags, 'status'], env);
    assert.equal(r.exitCode, 3, `${what}: ${r.stderr}`);
    assert.match(r.stderr.trim(), new RegExp(`^picas: authentication failed for user ${username} `), what);
    assert.match(r.stderr.trim(), origin, what);
    assert.ok(!r.stderr.includes(wrong), `${what}: never the password`);
  }
});
