import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '@picas/testkit';
import { tempDir } from './fixtures.js';
import { startServerProcess } from './server-process.js';

test('picas server --port 0 prints its real URL; a bare picas in that directory finds it', async () => {
  const dir = tempDir({ 'tokens.txt': 'echo one\necho two\n' });
  const server = await startServerProcess(['--port', '0', '--in-memory'], { cwd: dir });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(server.url, 'http://127.0.0.1:0');
  assert.equal(server.fauxtonUrl, `${server.url}/_utils/`);

  const statePath = join(dir, '.picas', 'server.json');
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  assert.equal(state.url, server.url);
  assert.equal(state.username, 'admin');
  assert.equal(typeof state.password, 'string');
  assert.equal(statSync(statePath).mode & 0o777, 0o600);
  assert.ok(!server.output().includes(state.password), 'the generated password is not printed');

  // no PICAS_* at all: cwd's .picas/server.json gives the URL and the credentials
  const bare = (...args: string[]) => runCli(args, { cwd: dir, env: {} });
  const init = await bare('init');
  assert.equal(init.exitCode, 0, init.stderr);
  assert.match(init.stderr, new RegExp(`using the embedded server at ${server.url}`));
  // the database it made is the admin's only: anonymous requests are refused
  assert.equal((await fetch(`${server.url}/picas`)).status, 401);
  assert.equal((await bare('push', 'tokens.txt')).stdout.trim(), 'pushed 2 tokens, 0 already present');
  const status = await bare('status');
  assert.equal(status.exitCode, 0, status.stderr);
  assert.match(status.stdout, /^\s+todo\s+2$/m);

  // a second server from the same directory is refused
  const second = await runCli(['server', '--port', '0', '--in-memory'], { cwd: dir, env: {} });
  assert.equal(second.exitCode, 1);
  assert.match(second.stderr, /a picas server is already running from this directory \(pid \d+/);

  // the same port from elsewhere: a clear error
  const port = new URL(server.url).port;
  const busy = await runCli(['server', '--port', port, '--in-memory'], { cwd: tempDir(), env: {} });
  assert.equal(busy.exitCode, 1);
  assert.match(busy.stderr, new RegExp(`port ${port} is already in use`));

  const stopped = await server.stop('SIGTERM');
  assert.equal(stopped.exitCode, 0, stopped.stderr);
  assert.match(stopped.stdout, /picas server stopped/);
  assert.ok(!existsSync(statePath), 'the state file is removed');
});

test('picas server keeps data in --data-dir across restarts, logging in with the admin it created', async () => {
  const dir = tempDir({ 'tokens.yaml': '- input: echo persisted\n' });
  const bare = (...args: string[]) => runCli(args, { cwd: dir, env: {} });
  const first = await startServerProcess(['--port', '0', '--data-dir', 'data'], { cwd: dir });
  assert.match(first.output(), new RegExp(`data in ${join(dir, 'data').replace(/[/\\]/g, '.')}`));
  assert.equal((await bare('init')).exitCode, 0);
  assert.equal((await bare('push', 'tokens.yaml')).stdout.trim(), 'pushed 1 token, 0 already present');
  assert.equal(statSync(join(dir, 'data', 'picas-admin.json')).mode & 0o777, 0o600);
  assert.equal((await first.stop('SIGINT')).exitCode, 0);

  const second = await startServerProcess(['--port', '0', '--data-dir', 'data'], { cwd: dir });
  const status = JSON.parse((await bare('status', '--json')).stdout);
  assert.equal(status.todo, 1);
  // an explicit PICAS_PASSWORD that does not match the data dir's admin is a clear error
  await second.stop();
  const wrong = await runCli(['server', '--port', '0', '--data-dir', 'data'], { cwd: dir, env: { PICAS_PASSWORD: 'not-the-one' } });
  assert.equal(wrong.exitCode, 1);
  assert.match(wrong.stderr, /already has an admin 'admin' with another password/);
  assert.ok(!wrong.stderr.includes('not-the-one'));
});
