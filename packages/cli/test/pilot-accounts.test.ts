/**
 * Pilot accounts on a real CouchDB 3: `picas user add|list|remove` (run as a server admin), what a pool
 * member can and cannot do, `picas passwd`, and PiCaS 1.1's conf.yml logging in as a member.
 * The embedded pouchdb-server has no `_users`-based accounts or `_security` members to test this with.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, freshDatabase, realCouchDBSkip, repoRoot, runCli, runWorker, scratchDir, sourceEnvFile, testBackend, testServer, type TestDatabase } from '@picas/testkit';
import { putDocs, pythonPicasToken } from './fixtures.js';

const skip = realCouchDBSkip('CouchDB accounts in _users and database members in _security; pouchdb-server has neither');
const suffix = randomBytes(3).toString('hex');
const created = new Set<string>();

/** The admin's env for a database; user names made here are removed after the file. */
function adminEnv(db: TestDatabase): Record<string, string> {
  return db.env;
}

function memberEnv(db: TestDatabase, username: string, password: string, dbName = db.config.db): Record<string, string> {
  return { PICAS_URL: db.env.PICAS_URL!, PICAS_DB: dbName, PICAS_USERNAME: username, PICAS_PASSWORD: password };
}

function passwordFile(password: string): string {
  const path = join(scratchDir('picas-pw-'), 'pw');
  writeFileSync(path, `${password}\n`);
  return path;
}

async function addMember(db: TestDatabase, name: string, password = randomBytes(12).toString('base64url')): Promise<string> {
  created.add(name);
  const r = await runCli(['user', 'add', name, '--password-file', passwordFile(password)], { env: adminEnv(db) });
  assert.equal(r.exitCode, 0, r.stderr);
  return password;
}

// the accounts made here are server-wide: delete them directly (the test databases may be gone by now)
after(async () => {
  if (created.size === 0 || testBackend() !== 'couchdb') return;
  const server = await testServer();
  const headers = { authorization: 'Basic ' + Buffer.from(`${server.username}:${server.password}`).toString('base64') };
  for (const name of created) {
    const url = `${server.url}/_users/${encodeURIComponent(`org.couchdb.user:${name}`)}`;
    const doc = await fetch(url, { headers });
    if (doc.status !== 200) continue;
    const { _rev } = (await doc.json()) as { _rev: string };
    await fetch(`${url}?rev=${_rev}`, { method: 'DELETE', headers });
  }
});

async function security(db: TestDatabase): Promise<{ members: { names: string[]; roles: string[] }; admins: { names?: string[]; roles: string[] } }> {
  return db.couch.http.expectOk({ path: db.couch.http.dbPath('/_security') });
}

test('user add/list/remove: a member of the pool only, its credentials in a 0600 env file or printed once', { skip }, async () => {
  const db = await freshDatabase(fileLabel(import.meta.url));
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  // what was there before stays: another member, a database admin, the roles
  await db.couch.http.expectOk({
    method: 'PUT',
    path: db.couch.http.dbPath('/_security'),
    body: { members: { names: ['keepme'], roles: ['_admin'] }, admins: { names: ['dbadmin'], roles: ['_admin'] } },
  });
  const pilot = `pilot_${suffix}`;
  created.add(pilot);
  const envFile = join(scratchDir('picas-env-'), 'pilot.env');
  const add = await runCli(['user', 'add', pilot, '--pilot-env-file', envFile], { env: db.env });
  assert.equal(add.exitCode, 0, add.stderr);
  assert.match(add.stdout, new RegExp(`^created CouchDB user '${pilot}', a member of database '${db.config.db}' only; its credentials are in .*pilot\\.env \\(mode 0600\\)$`, 'm'));
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  const vars = await sourceEnvFile(envFile);
  assert.deepEqual(Object.keys(vars).sort(), ['PICAS_DB', 'PICAS_PASSWORD', 'PICAS_URL', 'PICAS_USERNAME']);
  assert.equal(vars.PICAS_USERNAME, pilot);
  assert.equal(vars.PICAS_DB, db.config.db);
  assert.ok(vars.PICAS_PASSWORD!.length >= 20, 'a generated password');
  assert.ok(!add.stdout.includes(vars.PICAS_PASSWORD!) && !add.stderr.includes(vars.PICAS_PASSWORD!), 'with an env file, never printed');
  const sec = await security(db);
  assert.deepEqual(sec.members.names.sort(), ['keepme', pilot].sort());
  assert.deepEqual(sec.members.roles, ['_admin']);
  assert.deepEqual(sec.admins, { names: ['dbadmin'], roles: ['_admin'] });

  // the member works with the file alone
  const asPilot = vars as Record<string, string>;
  const status = await runCli(['status'], { env: asPilot });
  assert.equal(status.exitCode, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`as ${pilot}`));

  // printed once, on stdout, when there is no env file
  const other = `pilot2_${suffix}`;
  created.add(other);
  const printed = await runCli(['user', 'add', other], { env: db.env });
  assert.equal(printed.exitCode, 0, printed.stderr);
  assert.match(printed.stdout, new RegExp(`^PICAS_USERNAME=${other}$`, 'm'));
  assert.match(printed.stdout, /^PICAS_PASSWORD=\S{20,}$/m);
  assert.match(printed.stderr, /shown only this once/);

  const again = await runCli(['user', 'add', pilot], { env: db.env });
  assert.equal(again.exitCode, 5);
  assert.match(again.stderr, /already exists: add --existing/);

  const list = await runCli(['user', 'list', '--json'], { env: db.env });
  assert.equal(list.exitCode, 0, list.stderr);
  const users = (JSON.parse(list.stdout) as { users: Array<{ name: string; access: string; account: boolean }> }).users;
  assert.deepEqual(users.find((u) => u.name === pilot), { name: pilot, access: 'member', account: true });
  assert.deepEqual(users.find((u) => u.name === 'keepme'), { name: 'keepme', access: 'member', account: false });
  assert.deepEqual(users.find((u) => u.name === 'dbadmin'), { name: 'dbadmin', access: 'admin', account: false });
  const table = await runCli(['user', 'list'], { env: db.env });
  assert.match(table.stdout, new RegExp(`^${pilot} +member +yes$`, 'm'));

  // a member cannot make accounts
  const byMember = await runCli(['user', 'add', `x_${suffix}`], { env: asPilot });
  assert.equal(byMember.exitCode, 3);
  assert.match(byMember.stderr, new RegExp(`needs a CouchDB server admin; user ${pilot} is not one`));

  const remove = await runCli(['user', 'remove', pilot], { env: db.env });
  assert.equal(remove.exitCode, 0, remove.stderr);
  assert.match(remove.stdout, new RegExp(`removed '${pilot}' from database '${db.config.db}'; deleted CouchDB user '${pilot}'`));
  const afterRemove = await security(db);
  assert.deepEqual(afterRemove.members.names.sort(), ['keepme', other].sort());
  assert.deepEqual(afterRemove.admins, { names: ['dbadmin'], roles: ['_admin'] });
  const gone = await runCli(['status'], { env: asPilot });
  assert.equal(gone.exitCode, 3, gone.stderr);
  assert.equal((await runCli(['user', 'remove', pilot], { env: db.env })).exitCode, 4);
});

test('members: init without views needs a database admin; delete, reset and repair work; a non-member is refused with exit 3', { skip }, async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_member');
  const member = `member_${suffix}`;
  const password = await addMember(db, member);
  const env = memberEnv(db, member, password);

  const init = await runCli(['init'], { env });
  assert.equal(init.exitCode, 3);
  assert.equal(init.stderr.trim().split('\n').length, 1, init.stderr);
  assert.match(init.stderr, new RegExp(`^picas: database '${db.config.db}' needs its _design/Monitor, and user ${member} cannot write design documents: a database admin must run picas init`));
  const missing = await runCli(['init'], { env: { ...env, PICAS_DB: `${db.config.db}_missing` } });
  assert.equal(missing.exitCode, 3);
  assert.match(missing.stderr, new RegExp(`does not exist, and user ${member} cannot create it: a CouchDB server admin must run picas init`));

  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const memberInit = await runCli(['init'], { env });
  assert.equal(memberInit.exitCode, 0, memberInit.stderr);
  assert.match(memberInit.stdout, /^nothing to do/);

  await putDocs(db.couch, [
    pythonPicasToken('t_todo', 'todo'),
    pythonPicasToken('t_locked', 'locked'),
    pythonPicasToken('t_done', 'done'),
    pythonPicasToken('t_error', 'error'),
  ]);
  await db.couch.http.expectOk({
    method: 'POST',
    path: db.couch.http.dbPath('/_bulk_docs'),
    body: { new_edits: false, docs: [{ ...pythonPicasToken('t_todo', 'done'), _rev: '1-aaaabbbbccccddddeeeeffff00001111' }] },
  });

  // a member pushes tokens and runs them as a pilot
  const tokenFile = join(scratchDir('picas-tokens-'), 'tokens.txt');
  writeFileSync(tokenFile, 'echo one\necho two\n');
  const push = await runCli(['push', tokenFile], { env });
  assert.equal(push.exitCode, 0, push.stderr);
  const pilot = await runWorker(['--max-tokens', '2'], { env });
  assert.equal(pilot.exitCode, 0, pilot.stderr);
  assert.match(pilot.stdout, /done 2,/);

  const reset = await runCli(['reset', '--all'], { env });
  assert.equal(reset.exitCode, 0, reset.stderr);
  const repair = await runCli(['repair', '--json'], { env });
  assert.equal(repair.exitCode, 0, repair.stderr);
  const del = await runCli(['delete', '--state', 'done', '--yes'], { env });
  assert.equal(del.exitCode, 0, del.stderr);
  const status = await runCli(['status', '--json'], { env });
  assert.equal(status.exitCode, 0, status.stderr);
  const counts = JSON.parse(status.stdout) as Record<string, number>;
  assert.equal(counts.locked, 0, 'reset put the locked token back');
  assert.equal(counts.done, 0, 'delete removed the done tokens');
  assert.equal(counts.conflicts, 0, 'repair resolved the conflict');

  // a user of another pool only
  const other = await freshDatabase(fileLabel(import.meta.url) + '_other');
  const stranger = `stranger_${suffix}`;
  const strangerPassword = await addMember(other, stranger);
  for (const args of [['status'], ['list'], ['reset', '--all'], ['delete', '--state', 'todo', '--yes']]) {
    const r = await runCli(args, { env: memberEnv(db, stranger, strangerPassword) });
    assert.equal(r.exitCode, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^picas: user ${stranger} is not a member of database '${db.config.db}'; a server admin can add it: picas user add ${stranger} --existing$`, 'm'));
  }
  const added = await runCli(['user', 'add', stranger, '--existing'], { env: db.env });
  assert.equal(added.exitCode, 0, added.stderr);
  assert.equal((await runCli(['status'], { env: memberEnv(db, stranger, strangerPassword) })).exitCode, 0);
});

test('passwd: on CouchDB 3 (_users open to admins only) a member is told to ask an admin; picas user passwd sets a new one', { skip }, async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_userpasswd');
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const usersSecurity = await db.couch.http.expectOk<Record<string, unknown>>({ path: '/_users/_security' });
  const member = `reset_${suffix}`;
  const oldPassword = await addMember(db, member);
  const home = scratchDir('picas-home-');
  const init = await runCli(['config', 'init', '--url', db.env.PICAS_URL!, '--db', db.config.db, '--username', member, '--password-file', passwordFile(oldPassword)], { env: { HOME: home }, cwd: home });
  assert.equal(init.exitCode, 0, init.stderr);
  const confPath = join(home, '.config/picas/conf.yml');
  const before = readFileSync(confPath, 'utf8');
  const refused = await runCli(['passwd', '--new-password-file', passwordFile('never-used-1')], { env: { HOME: home }, cwd: home });
  if (JSON.stringify(usersSecurity.members ?? {}).includes('_admin')) {
    assert.equal(refused.exitCode, 3, refused.stderr);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`does not let user ${member} change its own password: .* A server admin can set a new one: picas user passwd ${member}$`, 'm'));
    assert.equal(readFileSync(confPath, 'utf8'), before, 'the file is unchanged');
  }
  const envFile = join(scratchDir('picas-env-'), 'pilot.env');
  const reset = await runCli(['user', 'passwd', member, '--pilot-env-file', envFile], { env: db.env });
  assert.equal(reset.exitCode, 0, reset.stderr);
  assert.match(reset.stdout, new RegExp(`^set a new password for CouchDB user '${member}'; its credentials are in`, 'm'));
  const newPassword = (await sourceEnvFile(envFile)).PICAS_PASSWORD!;
  assert.equal((await runCli(['status'], { env: memberEnv(db, member, newPassword) })).exitCode, 0);
  const old = await runCli(['status'], { env: memberEnv(db, member, oldPassword) });
  assert.equal(old.exitCode, 3, old.stderr);
  assert.match(old.stderr, new RegExp(`authentication failed for user ${member}`));
});

test('passwd: where users may change their own password (as on PiCaS servers), on the server and in conf.yml', { skip }, async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_passwd');
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const member = `passwd_${suffix}`;
  const oldPassword = await addMember(db, member);
  const home = scratchDir('picas-home-');
  const init = await runCli(['config', 'init', '--url', db.env.PICAS_URL!, '--db', db.config.db, '--username', member, '--password-file', passwordFile(oldPassword)], {
    env: { HOME: home },
    cwd: home,
  });
  assert.equal(init.exitCode, 0, init.stderr);
  assert.match(init.stdout, /^checked: logged in/m);
  const confPath = join(home, '.config/picas/conf.yml');
  const before = readFileSync(confPath, 'utf8');

  // CouchDB 2's default, for the length of this test: _users without members (each user still reads and
  // writes only its own document). CouchDB 3 allows that change only with users_db_security_editable.
  const { http } = db.couch;
  const editable = '/_node/_local/_config/couchdb/users_db_security_editable';
  const wasEditable = await http.request<string>({ path: editable });
  const usersSecurity = await http.expectOk<Record<string, unknown>>({ path: '/_users/_security' });
  const newPassword = `new-${randomBytes(9).toString('base64url')}`;
  let r;
  try {
    await http.expectOk({ method: 'PUT', path: editable, body: 'true' });
    await http.expectOk({ method: 'PUT', path: '/_users/_security', body: { admins: { names: [], roles: ['_admin'] }, members: { names: [], roles: [] } } });
    r = await runCli(['passwd', '--new-password-file', passwordFile(newPassword)], { env: { HOME: home }, cwd: home });
  } finally {
    await http.expectOk({ method: 'PUT', path: '/_users/_security', body: usersSecurity });
    if (wasEditable.status === 200) await http.expectOk({ method: 'PUT', path: editable, body: wasEditable.body });
    else await http.expectOk({ method: 'DELETE', path: editable });
  }
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^changed the password of CouchDB user '${member}' on `, 'm'));
  assert.match(r.stdout, /^updated encrypted_password in .*conf\.yml$/m);
  for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(newPassword) && !text.includes(oldPassword));
  const afterText = readFileSync(confPath, 'utf8');
  assert.notEqual(afterText, before);
  assert.ok(!afterText.includes(newPassword));

  assert.equal((await runCli(['status'], { env: { HOME: home }, cwd: home })).exitCode, 0, 'conf.yml holds the new password');
  assert.equal((await runCli(['status'], { env: memberEnv(db, member, newPassword) })).exitCode, 0);
  const old = await runCli(['status'], { env: memberEnv(db, member, oldPassword) });
  assert.equal(old.exitCode, 3, old.stderr);
  assert.match(old.stderr, new RegExp(`authentication failed for user ${member}`));
});

test("PiCaS 1.1's own conf.yml + key.dat log a member in (the fixture's user and password)", { skip }, async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_fixture');
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  await runCli(['user', 'remove', 'picasuser'], { env: db.env }); // left over from an interrupted run
  await addMember(db, 'picasuser', 's3cret-fixture-π');
  const home = scratchDir('picas-home-');
  cpSync(join(repoRoot, 'packages/core/test/fixtures/picas-1.1-home'), home, { recursive: true });
  chmodSync(join(home, '.config/picas/key.dat'), 0o600);
  // the fixture points at 127.0.0.1:5984/mypicasdb: only the address and database are overridden
  const r = await runCli(['status'], { env: { HOME: home, PICAS_URL: db.env.PICAS_URL!, PICAS_DB: db.config.db }, cwd: home });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /as picasuser/);
});

test('passwd as a server admin: the admin password in the node configuration, and conf.yml', { skip }, async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_adminpasswd');
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const { http } = db.couch;
  // a second server admin, only for this test (the test server's own admin is left alone)
  const admin = `tmpadmin_${suffix}`;
  const adminPath = `/_node/_local/_config/admins/${admin}`;
  const oldPassword = `old-${randomBytes(9).toString('base64url')}`;
  await http.expectOk({ method: 'PUT', path: adminPath, body: oldPassword });
  try {
    const home = scratchDir('picas-home-');
    const init = await runCli(['config', 'init', '--url', db.env.PICAS_URL!, '--db', db.config.db, '--username', admin, '--password-file', passwordFile(oldPassword)], { env: { HOME: home }, cwd: home });
    assert.equal(init.exitCode, 0, init.stderr);
    assert.match(init.stdout, /^checked: logged in/m);
    const newPassword = `new-${randomBytes(9).toString('base64url')}`;
    const r = await runCli(['passwd', '--new-password-file', passwordFile(newPassword)], { env: { HOME: home }, cwd: home });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^changed the password of server admin '${admin}' on `, 'm'));
    assert.match(r.stdout, /^updated encrypted_password in .*conf\.yml$/m);
    assert.match(r.stderr, /on a CouchDB cluster this changed the node picas talks to/);
    assert.equal((await runCli(['status'], { env: { HOME: home }, cwd: home })).exitCode, 0, 'conf.yml holds the new password');
    const old = await runCli(['status'], { env: memberEnv(db, admin, oldPassword) });
    assert.equal(old.exitCode, 3, old.stderr);
  } finally {
    await http.request({ method: 'DELETE', path: adminPath });
  }
});
