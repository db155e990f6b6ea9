#!/usr/bin/env node
// `npm test`: install if needed, build, start one embedded CouchDB-compatible server (with an admin, as
// real CouchDB requires) for the whole run, then run every package's tests with node's test runner.
//   npm test                 all tests
//   npm test -- worker claim only test files whose path contains one of the words
//   npm test -- --couchdb URL    the same tests against a real CouchDB 3 (URL with admin credentials,
//                                e.g. http://admin:pass@127.0.0.1:5984); or PICAS_TEST_COUCHDB=URL
//   npm test -- --cluster URL1,URL2,URL3
//                                also run the real-cluster tests against these nodes (PICAS_TEST_CLUSTER)
//   npm test -- --couchdb shared --cluster shared
//                                start (and stop at the end) a real CouchDB 3.5 single node and 3-node cluster
//                                from ../shared/couchdb, with a random admin password (what CI does)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureBuilt, root } from './ensure-built.mjs';

ensureBuilt();
const sharedScript = join(root, '..', 'shared', 'couchdb', 'couchdb');

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (entry.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const { filters, couchdb, cluster } = parseArgs(process.argv.slice(2));
const files = readdirSync(join(root, 'packages'))
  .flatMap((pkg) => {
    const dir = join(root, 'packages', pkg, 'dist', 'test');
    try {
      return findTests(dir);
    } catch {
      return [];
    }
  })
  .filter((f) => filters.length === 0 || filters.some((w) => relative(root, f).includes(w)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const started = [];
const sharedPassword = randomBytes(12).toString('base64url');
const couchdbUrl = couchdb === 'shared' ? sharedCouchDB(['start', '--port', process.env.PICAS_TEST_COUCHDB_PORT ?? '15984', '--fresh'])[0] : couchdb;
const clusterUrls = cluster === 'shared' ? sharedCouchDB(['cluster', 'start', '--fresh']).join(',') : cluster;
const backend = couchdbUrl ? await realCouchDB(couchdbUrl) : await embeddedServer();
// CouchDB 3.5 locks an account out (403) after 5 failed logins, and the tests try wrong passwords on purpose:
// during the run its lockout only warns; the setting is put back at the end
const restoreLockout = [];
if (couchdbUrl) restoreLockout.push(await relaxLockout(couchdbUrl));
for (const node of clusterUrls ? clusterUrls.split(',') : []) restoreLockout.push(await relaxLockout(node));
console.error(`test server: ${backend.label}`);

const concurrency = process.env.PICAS_TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PICAS_TEST_URL: backend.url,
    PICAS_TEST_USERNAME: backend.username,
    PICAS_TEST_PASSWORD: backend.password,
    PICAS_TEST_BACKEND: couchdb ? 'couchdb' : 'embedded',
    ...(clusterUrls ? { PICAS_TEST_CLUSTER: clusterUrls } : {}),
    ...(started.length > 0 ? { COUCHDB_PASSWORD: sharedPassword } : {}),
  },
});
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const code = await new Promise((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
for (const restore of restoreLockout) await restore().catch(() => undefined);
backend.stop();
for (const args of started.reverse()) {
  try {
    execFileSync('bash', [sharedScript, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    // reported by the script
  }
}
process.exit(code);

/** Starts CouchDB from ../shared/couchdb (see its README); returns the URLs it prints (with credentials). */
function sharedCouchDB(args) {
  if (!existsSync(sharedScript)) usage(`${args[0] === 'cluster' ? '--cluster' : '--couchdb'} shared: ${sharedScript} is not there`);
  let out;
  try {
    out = execFileSync('bash', [sharedScript, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, COUCHDB_PASSWORD: sharedPassword } });
  } catch (err) {
    console.error(`npm test: ${sharedScript} ${args.join(' ')} failed (exit ${err.status})`);
    process.exit(2);
  }
  started.push(args[0] === 'cluster' ? ['cluster', 'stop'] : ['stop', '--port', args[2]]);
  return out.trim().split('\n').filter(Boolean);
}

function parseArgs(args) {
  const out = { filters: [], couchdb: process.env.PICAS_TEST_COUCHDB || undefined, cluster: process.env.PICAS_TEST_CLUSTER || undefined };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--couchdb' || a === '--cluster') {
      const value = args[++i];
      if (!value || value.startsWith('-')) usage(`${a} needs a value`);
      out[a.slice(2)] = value;
    } else if (a.startsWith('--couchdb=') || a.startsWith('--cluster=')) {
      out[a.slice(2, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);
    } else if (a.startsWith('-')) {
      usage(`unknown option ${a}`);
    } else {
      out.filters.push(a);
    }
  }
  return out;
}

function usage(message) {
  console.error(`npm test: ${message}\nusage: npm test -- [--couchdb URL] [--cluster URL1,URL2,URL3] [words in test file paths]`);
  process.exit(1);
}

/** A URL's credentials taken out of it: the bare URL, the user and password, and the Basic auth header. */
function credentialsOf(u) {
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const bare = new URL(u);
  bare.username = '';
  bare.password = '';
  const auth = username ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` } : {};
  return { url: bare.toString().replace(/\/$/, ''), username, password, auth };
}

/** Sets `[chttpd_auth_lockout] mode = warn` on the node behind `raw`; returns how to put the old value back. */
async function relaxLockout(raw) {
  const { url, auth } = credentialsOf(new URL(raw));
  const key = `${url}/_node/_local/_config/chttpd_auth_lockout/mode`;
  const call = (method, body) => fetch(key, { method, headers: { ...auth, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
  const before = await call('GET').catch(() => undefined);
  if (!before || (before.status !== 200 && before.status !== 404)) return async () => {};
  const old = before.status === 200 ? await before.json() : undefined;
  if (old === 'warn' || old === 'off') return async () => {};
  await call('PUT', JSON.stringify('warn'));
  return async () => {
    if (old === undefined) await call('DELETE');
    else await call('PUT', JSON.stringify(old));
  };
}

/** A real CouchDB given by URL (credentials in it): checked once, then shown without the password. */
async function realCouchDB(raw) {
  let u;
  try {
    u = new URL(raw);
  } catch {
    usage(`--couchdb: not a URL: ${raw.replace(/\/\/[^@/]*@/, '//***@')}`);
  }
  const { url, username, password, auth } = credentialsOf(u);
  try {
    const res = await fetch(`${url}/_session`, { headers: auth, signal: AbortSignal.timeout(10_000) });
    const body = await res.json();
    if (!body?.userCtx?.roles?.includes('_admin')) throw new Error(`${username || 'anonymous'} is not a server admin there (the tests create databases)`);
  } catch (err) {
    console.error(`npm test: --couchdb ${url}: ${err.message}`);
    process.exit(2);
  }
  return { url, username, password, label: `${url} (real CouchDB, user ${username})`, stop() {} };
}

async function embeddedServer() {
  const admin = { user: 'admin', password: randomBytes(12).toString('base64url') };
  const server = spawn(process.execPath, [join(root, 'packages/server/dist/src/main.js'), '--in-memory'], {
  env: { ...process.env, PICAS_SERVER_ADMIN_USER: admin.user, PICAS_SERVER_ADMIN_PASSWORD: admin.password },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  const lines = createInterface({ input: server.stdout });
  lines.once('line', (line) => resolve(JSON.parse(line).url));
  server.once('exit', (code) => reject(new Error(`the test server exited before it was ready (exit ${code})`)));
  setTimeout(() => reject(new Error('the test server did not start within 30 s')), 30_000).unref();
});
  return { url, username: admin.user, password: admin.password, label: `${url} (embedded, in memory, admin configured)`, stop: () => server.kill('SIGTERM') };
}
