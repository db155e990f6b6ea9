/**
 * PiCaS 1.1's config, both ways: picas reads a conf.yml + key.dat that Python PiCaS wrote (the fixture, made by
 * `cryptography`'s Fernet and PyYAML), and `picas config init` writes files Python PiCaS reads (checked with
 * python3 when it has `cryptography` and `yaml`). A bad key or a changed token is one line, naming both files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileLabel, freshDatabase, repoRoot, runCli, runWorker, scratchDir } from '@picas/testkit';
import { yamlModule } from '@picas/core/lazy-modules';

const parseYaml = (text: string): unknown => yamlModule().parse(text);

const FIXTURE_HOME = join(repoRoot, 'packages/core/test/fixtures/picas-1.1-home');
const FIXTURE_PASSWORD = 's3cret-fixture-π';

/** A HOME holding PiCaS 1.1's files, as `picas-cli init` left them. */
function picasHome(): string {
  const home = scratchDir('picas-home-');
  cpSync(FIXTURE_HOME, home, { recursive: true });
  chmodSync(join(home, '.config/picas'), 0o700);
  chmodSync(join(home, '.config/picas/key.dat'), 0o600);
  return home;
}

const mode = (path: string) => statSync(path).mode & 0o777;

test('PiCaS 1.1 conf.yml with encrypted_password: picas config show decrypts it and masks it', async () => {
  const home = picasHome();
  const r = await runCli(['config', 'show'], { env: { HOME: home }, cwd: home });
  assert.equal(r.exitCode, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^config file +.*\.config\/picas\/conf\.yml$/m);
  assert.match(out, /^key file +.*\.config\/picas\/key\.dat \(mode 0600\)$/m);
  assert.match(out, /^url +http:\/\/127\.0\.0\.1:5984 .*\(host_url\)$/m);
  assert.match(out, /^db +mypicasdb .*\(database\)$/m);
  assert.match(out, /^username +picasuser /m);
  assert.match(out, /^password +\*\*\* +.*conf\.yml \(encrypted_password\), decrypted with .*key\.dat$/m);
  assert.ok(!out.includes(FIXTURE_PASSWORD) && !r.stderr.includes(FIXTURE_PASSWORD), 'the password is never shown');
  assert.ok(!out.includes('gAAAAA'), 'nor the token');
});

test('a changed token, another key, or a missing key.dat: one line naming both files, exit 1, never the password', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url));
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const env = (home: string) => ({ HOME: home, PICAS_URL: db.env.PICAS_URL!, PICAS_DB: db.env.PICAS_DB! });
  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    [
      'changed token',
      (dir) => {
        const path = join(dir, 'conf.yml');
        const text = readFileSync(path, 'utf8');
        const token = /encrypted_password: (\S+)/.exec(text)![1]!;
        const at = 40;
        const flipped = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
        writeFileSync(path, text.replace(token, flipped));
      },
      /signature does not match/,
    ],
    ['another key', (dir) => writeFileSync(join(dir, 'key.dat'), 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4='), /signature does not match/],
    ['not a key', (dir) => writeFileSync(join(dir, 'key.dat'), 'not a key\n'), /does not hold a Fernet key/],
    ['missing key', (dir) => execFileSync('rm', [join(dir, 'key.dat')]), /key file .*key\.dat does not exist/],
  ];
  for (const [what, damage, why] of cases) {
    const home = picasHome();
    damage(join(home, '.config/picas'));
    for (const run of [() => runCli(['status'], { env: env(home), cwd: home }), () => runWorker([], { env: env(home), cwd: home })]) {
      const r = await run();
      assert.equal(r.exitCode, 1, `${what}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${what}: one line, got: ${r.stderr}`);
      assert.match(lines[0]!, /conf\.yml/, what);
      assert.match(lines[0]!, /key\.dat/, what);
      assert.match(lines[0]!, why, what);
      assert.ok(!r.stderr.includes(FIXTURE_PASSWORD) && !r.stdout.includes(FIXTURE_PASSWORD), what);
    }
  }
  // a password given elsewhere wins, and then a broken encrypted_password is no error
  const home = picasHome();
  writeFileSync(join(home, '.config/picas/key.dat'), 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=');
  const r = await runCli(['status', '--json'], { env: { ...db.env, HOME: home }, cwd: home });
  assert.equal(r.exitCode, 0, r.stderr);
});

test('picas config init writes what PiCaS writes (keys, modes); picas then runs from conf.yml alone', async () => {
  const db = await freshDatabase(fileLabel(import.meta.url) + '_init');
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const home = scratchDir('picas-home-');
  mkdirSync(join(home, '.config'));
  const passwordFile = join(home, 'pw');
  writeFileSync(passwordFile, `${db.env.PICAS_PASSWORD ?? ''}\n`);
  const init = await runCli(['config', 'init', '--url', db.env.PICAS_URL!, '--db', db.env.PICAS_DB!, '--username', db.env.PICAS_USERNAME ?? 'nobody', '--password-file', passwordFile], {
    env: { HOME: home },
    cwd: home,
  });
  assert.equal(init.exitCode, 0, init.stderr);
  assert.match(init.stdout, /^wrote .*\.config\/picas\/conf\.yml \(host_url, database, username, encrypted_password\)$/m);
  assert.match(init.stdout, /^created .*key\.dat \(mode 0600\)/m);
  assert.match(init.stdout, /^checked: logged in to /m);
  const dir = join(home, '.config/picas');
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(join(dir, 'key.dat')), 0o600);
  const key = readFileSync(join(dir, 'key.dat'), 'utf8');
  assert.match(key, /^[A-Za-z0-9_-]{43}=$/, 'the key as Fernet.generate_key() writes it: 44 characters, no newline');
  const text = readFileSync(join(dir, 'conf.yml'), 'utf8');
  const conf = parseYaml(text) as Record<string, string>;
  // PiCaS' schema: exactly these keys (additionalProperties: false), all strings; PyYAML sorts them
  assert.deepEqual(Object.keys(conf), ['database', 'encrypted_password', 'host_url', 'username']);
  assert.deepEqual({ ...conf, encrypted_password: undefined }, { database: db.env.PICAS_DB, encrypted_password: undefined, host_url: db.env.PICAS_URL, username: db.env.PICAS_USERNAME });
  assert.match(conf.encrypted_password!, /^gAAAAA[A-Za-z0-9_-]+=*$/);
  // (a short test password like 'pass' is a part of the key name encrypted_password itself)
  if (db.env.PICAS_PASSWORD && db.env.PICAS_PASSWORD.length >= 8) assert.ok(!text.includes(db.env.PICAS_PASSWORD));
  assert.ok(!Object.values(conf).includes(db.env.PICAS_PASSWORD ?? ''));

  // now no PICAS_* at all: everything comes from conf.yml + key.dat
  const status = await runCli(['status', '--json'], { env: { HOME: home }, cwd: home });
  assert.equal(status.exitCode, 0, status.stderr);
  const pilot = await runWorker([], { env: { HOME: home }, cwd: home });
  assert.equal(pilot.exitCode, 0, `picas-worker reads conf.yml too: ${pilot.stderr}`);
  const show = await runCli(['config', 'show'], { env: { HOME: home }, cwd: home });
  assert.match(show.stdout, /^password +\*\*\* /m);

  // a second init keeps the key (as PiCaS does) and re-encrypts
  const again = await runCli(['config', 'init', '--no-check'], { env: { HOME: home }, cwd: home });
  assert.equal(again.exitCode, 0, again.stderr);
  assert.match(again.stdout, /^kept the key in /m);
  assert.equal(readFileSync(join(dir, 'key.dat'), 'utf8'), key);
  assert.equal((parseYaml(readFileSync(join(dir, 'conf.yml'), 'utf8')) as Record<string, string>).database, db.env.PICAS_DB);
  assert.equal((await runCli(['status', '--json'], { env: { HOME: home }, cwd: home })).exitCode, 0);

  // Python PiCaS' side, when this machine has its libraries: yaml.safe_load + Fernet(key).decrypt, as PiCaS does
  const python = pythonWithFernet();
  if (python) {
    const script = [
      'import os, sys, yaml',
      'from cryptography.fernet import Fernet',
      "conf = yaml.safe_load(open(os.path.expanduser('~/.config/picas/conf.yml')))",
      "assert sorted(conf) == ['database', 'encrypted_password', 'host_url', 'username'], conf",
      "assert all(isinstance(v, str) for v in conf.values())",
      "key = open(os.path.expanduser('~/.config/picas/key.dat'), 'rb').read()",
      "sys.stdout.write(Fernet(key).decrypt(conf['encrypted_password']).decode('utf-8'))",
    ].join('\n');
    const decrypted = execFileSync(python, ['-c', script], { env: { ...process.env, HOME: home }, encoding: 'utf8' });
    assert.equal(decrypted, db.env.PICAS_PASSWORD ?? '');
  }
});

test('config init: no user name, or no password without a terminal, is a clear error and writes nothing', async () => {
  const home = scratchDir('picas-home-');
  const noUser = await runCli(['config', 'init', '--no-check'], { env: { HOME: home, PICAS_PASSWORD: 'x' }, cwd: home });
  assert.equal(noUser.exitCode, 1);
  assert.match(noUser.stderr, /--username is required/);
  const noPassword = await runCli(['config', 'init', '--username', 'alice', '--no-check'], { env: { HOME: home }, cwd: home });
  assert.equal(noPassword.exitCode, 1);
  assert.match(noPassword.stderr, /no password: give --password-file FILE, set PICAS_PASSWORD/);
  assert.throws(() => statSync(join(home, '.config/picas/conf.yml')));
});

function pythonWithFernet(): string | undefined {
  try {
    execFileSync('python3', ['-c', 'import yaml, cryptography.fernet'], { stdio: 'ignore' });
    return 'python3';
  } catch {
    return undefined;
  }
}
