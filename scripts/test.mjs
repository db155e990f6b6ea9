#!/usr/bin/env node
// `npm test`: install if needed, build, start one embedded CouchDB-compatible server (with an admin, as
// real CouchDB requires) for the whole run, then run every package's tests with node's test runner.
//   npm test                 all tests
//   npm test -- worker claim only test files whose path contains one of the words
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureBuilt, root } from './ensure-built.mjs';

ensureBuilt();

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (entry.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
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
console.error(`test server: ${url} (in memory, admin configured)`);

const concurrency = process.env.PICAS_TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PICAS_TEST_URL: url, PICAS_TEST_USERNAME: admin.user, PICAS_TEST_PASSWORD: admin.password },
});
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const code = await new Promise((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
server.kill('SIGTERM');
process.exit(code);
