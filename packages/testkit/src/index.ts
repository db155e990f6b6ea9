/**
 * Test-only helpers: the shared CouchDB-compatible server, a fresh database per test file, and
 * running the real `picas` / `picas-worker` binaries as processes.
 *
 * `npm test` (scripts/test.mjs) starts one embedded server with an admin for the whole run and passes it
 * in PICAS_TEST_URL / PICAS_TEST_USERNAME / PICAS_TEST_PASSWORD. A test file run on its own starts its
 * own in-process server instead.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { execa, type Options as ExecaOptions, type ResultPromise } from 'execa';
import { openCouch, type ConnectionConfig, type Couch } from '@picas/core';
import { startEmbeddedServer, type EmbeddedServer } from '@picas/server';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const cliBin = join(repoRoot, 'packages/cli/dist/src/bin.js');
export const workerBin = join(repoRoot, 'packages/worker/dist/src/bin.js');

export interface TestServer {
  url: string;
  username: string;
  password: string;
}

let ownServer: Promise<EmbeddedServer> | undefined;
const ownAdmin = { username: 'admin', password: randomBytes(9).toString('base64url') };
// registered at import (the file's root), not inside the first test that asks for a server: the server
// must outlive that test
after(async () => (ownServer ? (await ownServer).close() : undefined));

/** The server for this test run: the shared one from `npm test`, or an in-process one for this file. */
export async function testServer(): Promise<TestServer> {
  const env = process.env;
  if (env.PICAS_TEST_URL) {
    return { url: env.PICAS_TEST_URL, username: env.PICAS_TEST_USERNAME ?? '', password: env.PICAS_TEST_PASSWORD ?? '' };
  }
  ownServer ??= startEmbeddedServer({ inMemory: true, admin: ownAdmin });
  const server = await ownServer;
  return { url: server.url, ...ownAdmin };
}

export interface TestDatabase {
  config: ConnectionConfig;
  couch: Couch;
  /** env for child processes pointing at this database (PICAS_URL, PICAS_DB, credentials) */
  env: Record<string, string>;
}

/**
 * Creates a fresh, empty database for the calling test file, and deletes it after the file's tests.
 * `init: true` also installs the design documents, as `picas init` would.
 */
export async function freshDatabase(label: string, options: { create?: boolean } = {}): Promise<TestDatabase> {
  const server = await testServer();
  const name = `t_${label.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 40)}_${randomBytes(4).toString('hex')}`;
  const config: ConnectionConfig = { url: server.url, db: name, username: server.username || undefined, password: server.password || undefined, embedded: false };
  const couch = openCouch(config);
  if (options.create !== false) {
    await couch.http.expectOk({ method: 'PUT', path: couch.http.dbPath() }, `creating test database ${name}`);
  }
  after(async () => {
    await couch.http.request({ method: 'DELETE', path: couch.http.dbPath() }).catch(() => undefined);
    await couch.close();
  });
  const env: Record<string, string> = { PICAS_URL: server.url, PICAS_DB: name };
  if (server.username) {
    env.PICAS_USERNAME = server.username;
    env.PICAS_PASSWORD = server.password;
  }
  return { config, couch, env };
}

/** A temporary directory, removed after the test (or file) that made it. */
export function scratchDir(prefix = 'picas-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 2 }));
  return dir;
}

/** A label from a test file's URL, for database names: `freshDatabase(fileLabel(import.meta.url))`. */
export function fileLabel(metaUrl: string): string {
  return basename(fileURLToPath(metaUrl)).replace(/\.test\.js$/, '');
}

/** The environment a child process gets: the parent's, minus any PICAS_* and FIRECREST settings, plus `env`. */
export function cleanEnv(env: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const base: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PICAS_') || k.startsWith('FIRECREST_') || k === 'AUTH_TOKEN_URL' || k.startsWith('SLURM_')) continue;
    base[k] = v;
  }
  return { ...base, CI: process.env.CI, NO_COLOR: '1', ...env };
}

export type RunOptions = ExecaOptions & { env?: Record<string, string | undefined> };

/** Runs the real `picas` CLI. Never rejects: inspect exitCode, stdout, stderr. */
export function runCli(args: readonly string[], options: RunOptions = {}) {
  return execa(process.execPath, [cliBin, ...args], {
    reject: false,
    timeout: 120_000,
    stdin: 'ignore',
    ...options,
    env: cleanEnv(options.env),
    extendEnv: false,
  } as ExecaOptions) as unknown as ResultPromise<{ reject: false }>;
}

/**
 * Runs the real `picas-worker`. Never rejects: inspect exitCode, stdout, stderr. Tokens run in the pilot's
 * working directory: a scratch directory of its own unless `cwd` is given.
 */
export function runWorker(args: readonly string[], options: RunOptions = {}) {
  return execa(process.execPath, [workerBin, ...args], {
    reject: false,
    timeout: 300_000,
    stdin: 'ignore',
    ...options,
    cwd: options.cwd ?? scratchDir('picas-pilot-cwd-'),
    env: cleanEnv(options.env),
    extendEnv: false,
  } as ExecaOptions) as unknown as ResultPromise<{ reject: false }>;
}

/** Parses pino JSON lines (ignoring anything else) so tests can assert on log objects. */
export function logLines(text: string): Array<Record<string, any>> {
  const out: Array<Record<string, any>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // not a log line
    }
  }
  return out;
}

/**
 * The PICAS_* variables of a pilot env file as bash sees them after `source` (how the pilot script reads it),
 * so a test does not depend on how the file quotes a value.
 */
export async function sourceEnvFile(path: string): Promise<Record<string, string>> {
  const r = await execa('bash', ['-c', 'set -a; source "$1"; env -0', 'source-env', path], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, extendEnv: false });
  return Object.fromEntries(
    r.stdout.split('\0').filter((kv) => kv.startsWith('PICAS_')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  // a guard against hangs, not a timing assertion: generous, since shared CI machines can be very busy
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
export * from './firecrest-standin.js';

export { processAlive } from '@picas/core';

/**
 * Which server this run tests against: `embedded` (the default, an in-memory pouchdb-server) or `couchdb`
 * (a real Apache CouchDB 3: `npm test -- --couchdb URL`, or `PICAS_TEST_COUCHDB=URL npm test`).
 */
export type TestBackend = 'embedded' | 'couchdb';

export function testBackend(): TestBackend {
  return process.env.PICAS_TEST_BACKEND === 'couchdb' ? 'couchdb' : 'embedded';
}

/**
 * For tests that only mean something on a real CouchDB 3 (member accounts, `_users`, `_membership`, the real
 * cluster): undefined when this run has one, else the skip message saying why and how to run them. With
 * PICAS_REQUIRE_COUCHDB=1 a missing real CouchDB is a failure instead (CI's real-CouchDB pass sets it).
 */
export function realCouchDBSkip(why: string): string | undefined {
  if (testBackend() === 'couchdb') return undefined;
  return `needs a real CouchDB 3 (${why}); run \`npm test -- --couchdb URL\` or \`PICAS_TEST_COUCHDB=URL npm test\``;
}

/**
 * The real 3-node cluster for this run, one URL per node (credentials inside), from PICAS_TEST_CLUSTER
 * (comma-separated; `npm test -- --cluster` starts one from ../shared/couchdb). Undefined when there is none.
 */
export function testCluster(): string[] | undefined {
  const urls = (process.env.PICAS_TEST_CLUSTER ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return urls.length > 0 ? urls : undefined;
}
export * from './node-binaries.js';
export * from './real-slurm.js';
