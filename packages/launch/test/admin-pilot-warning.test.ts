/**
 * The launchers warn once when the pilots would log in as a CouchDB server admin, and say how to make a member
 * account instead; with a member's credentials they say nothing. (One shared check: adminPilotWarning.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, freshDatabase, realCouchDBSkip, runCli, scratchDir, sourceEnvFile, type TestDatabase } from '@picas/testkit';

const WARNING = /a CouchDB server admin: whoever can read a job's environment can then change anything on this server\. Give them a member of '[^']+' only: picas user add pilot --pilot-env-file pilot\.env/g;

function launchers(): Array<[string, string[], Record<string, string>]> {
  return [
    ['launch local', ['launch', 'local', '-n', '2', '--log-format', 'text'], {}],
    ['slurm submit', ['slurm', 'submit', '--array', '1-3', '--dry-run'], {}],
    ['firecrest submit', ['firecrest', 'submit', '-n', '2', '--workdir', '/scratch/picas', '--dry-run'], { FIRECREST_URL: 'http://127.0.0.1:9', FIRECREST_SYSTEM: 'daint' }],
  ];
}

async function initialized(label: string): Promise<TestDatabase> {
  const db = await freshDatabase(label);
  const init = await runCli(['init'], { env: db.env });
  assert.equal(init.exitCode, 0, init.stderr);
  return db;
}

test('with admin credentials, launch local, slurm submit and firecrest submit each warn exactly once', async () => {
  const db = await initialized(fileLabel(import.meta.url));
  const session = await db.couch.http.expectOk<{ userCtx: { roles: string[] } }>({ path: '/_session' });
  assert.ok(session.userCtx.roles.includes('_admin'), 'the test server logs us in as an admin');
  const cwd = scratchDir('picas-launch-');
  for (const [what, args, extra] of launchers()) {
    const r = await runCli(args, { env: { ...db.env, ...extra }, cwd });
    assert.equal(r.exitCode, 0, `${what}: ${r.stderr}`);
    assert.equal([...r.stderr.matchAll(WARNING)].length, 1, `${what} warns once: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`will log in as '${db.env.PICAS_USERNAME}', a CouchDB server admin`));
    if (db.env.PICAS_PASSWORD) assert.ok(!r.stderr.includes(db.env.PICAS_PASSWORD) || db.env.PICAS_PASSWORD.length < 8);
  }
});

test('with a member account (picas user add), the launchers do not warn', { skip: realCouchDBSkip('member accounts in _users') }, async () => {
  const db = await initialized(`${fileLabel(import.meta.url)}_member`);
  const name = `launcher_${randomBytes(3).toString('hex')}`;
  const envFile = join(scratchDir('picas-env-'), 'pilot.env');
  const add = await runCli(['user', 'add', name, '--pilot-env-file', envFile], { env: db.env });
  assert.equal(add.exitCode, 0, add.stderr);
  try {
    const password = (await sourceEnvFile(envFile)).PICAS_PASSWORD!;
    const member = { PICAS_URL: db.env.PICAS_URL!, PICAS_DB: db.config.db, PICAS_USERNAME: name, PICAS_PASSWORD: password };
    const cwd = scratchDir('picas-launch-');
    writeFileSync(join(cwd, 'README'), 'no .env here');
    for (const [what, args, extra] of launchers()) {
      const r = await runCli(args, { env: { ...member, ...extra }, cwd });
      assert.equal(r.exitCode, 0, `${what}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /server admin/, what);
    }
  } finally {
    await runCli(['user', 'remove', name], { env: db.env });
  }
});
