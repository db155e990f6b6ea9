#!/usr/bin/env node
// `npm run demo [-- --keep]`: the quick example, end to end, on a fresh clone.
//   1. installs and builds what is missing
//   2. starts the embedded CouchDB-compatible server (in memory, an admin with a generated password)
//   3. picas init, picas push examples/quick/tokens.txt
//   4. runs picas-worker until the tokens are processed
//   5. prints picas status and the Fauxton URL, then stops the server (--keep leaves it running)
// Every picas command runs in .picas/demo with no PICAS_* settings: it finds the server via
// .picas/demo/.picas/server.json, as a bare `picas` would.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBuilt, root } from './ensure-built.mjs';

const keep = process.argv.includes('--keep');
ensureBuilt();

const cliBin = join(root, 'packages/cli/dist/src/bin.js');
const workerBin = join(root, 'packages/worker/dist/src/bin.js');
const tokensFile = join(root, 'examples/quick/tokens.txt');
const demoDir = join(root, '.picas', 'demo');
const statePath = join(demoDir, '.picas', 'server.json');
const logPath = join(demoDir, 'server.log');
mkdirSync(demoDir, { recursive: true });

/** The environment without any PICAS_* settings of the user's, so the demo talks to its own server. */
function demoEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PICAS_')) env[k] = v;
  return { ...env, ...extra };
}

function step(text) {
  console.log(`\n== ${text}`);
}

function picas(...args) {
  console.log(`$ picas ${args.map((a) => (a.includes(root) ? relative(demoDir, a) : a)).join(' ')}`);
  const r = spawnSync(process.execPath, [cliBin, ...args], { cwd: demoDir, env: demoEnv(), stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`picas ${args[0]} failed (exit ${r.status ?? r.signal})`);
}

function readState() {
  try {
    return JSON.parse(readFileSync(statePath, 'utf8'));
  } catch {
    return undefined;
  }
}

step('starting the embedded server (in memory, with an admin)');
const log = openSync(logPath, 'w');
const server = spawn(process.execPath, [cliBin, 'server', '--port', '0', '--in-memory'], {
  cwd: demoDir,
  env: demoEnv(),
  stdio: ['ignore', log, log],
  detached: keep,
});
closeSync(log);
let serverExited = false;
server.on('exit', () => (serverExited = true));
const stopServer = async () => {
  if (serverExited) return;
  server.kill('SIGTERM');
  for (let i = 0; i < 100 && !serverExited; i++) await sleep(50);
  if (!serverExited) server.kill('SIGKILL');
};
const onSignal = () => {
  void stopServer().then(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let state;
for (let i = 0; i < 300 && !serverExited; i++) {
  state = readState();
  if (state?.pid === server.pid) break;
  state = undefined;
  await sleep(100);
}
if (!state) {
  console.error(`the server did not start; its output (${relative(root, logPath)}):\n${readFileSync(logPath, 'utf8')}`);
  await stopServer();
  process.exit(1);
}
console.log(`server: ${state.url} (pid ${state.pid}); log in ${relative(root, logPath)}`);

let failed = false;
try {
  step('creating the database and its views');
  picas('init');

  step('pushing the quick example tokens');
  picas('push', tokensFile);
  picas('status');

  step('processing the tokens with picas-worker');
  if (existsSync(workerBin)) {
    console.log('$ picas-worker --slots 4');
    const worker = spawn(process.execPath, [workerBin, '--slots', '4'], {
      cwd: demoDir,
      env: demoEnv({ PICAS_URL: state.url, PICAS_USERNAME: state.username, PICAS_PASSWORD: state.password, PICAS_DB: 'picas' }),
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const timer = setTimeout(() => worker.kill('SIGTERM'), 120_000);
    const code = await new Promise((resolve) => worker.on('exit', (c, s) => resolve(c ?? s)));
    clearTimeout(timer);
    if (code !== 0) console.error(`picas-worker exited with ${code}`);
  } else {
    console.log(`picas-worker is not built yet (${relative(root, workerBin)} is missing): skipping this step, the tokens stay todo`);
  }

  step('status');
  picas('status');
  picas('list', '--state', 'error');
  const errors = spawnSync(process.execPath, [cliBin, 'list', '--state', 'error', '--json', '--limit', '1'], { cwd: demoDir, env: demoEnv(), encoding: 'utf8' });
  const failedToken = errors.status === 0 ? JSON.parse(errors.stdout)[0] : undefined;
  if (failedToken?._attachments?.[`logs_${failedToken._id}.out`]) picas('logs', failedToken._id);
  console.log(`\nFauxton (the CouchDB web UI): ${state.url}/_utils/#/database/picas/_all_docs`);
  console.log(`  log in as ${state.username}; the password is in ${relative(root, statePath)}`);
} catch (err) {
  failed = true;
  console.error(`demo failed: ${err.message}`);
}

process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
if (keep && !failed) {
  server.unref();
  console.log(`\nThe server keeps running (pid ${server.pid}). Try, from ${relative(process.cwd(), demoDir) || '.'}:`);
  console.log(`  cd ${relative(process.cwd(), demoDir) || '.'} && node ${relative(demoDir, cliBin)} status`);
  console.log(`Stop it with: kill ${server.pid}`);
} else {
  await stopServer();
  console.log(`\nserver stopped${keep ? '' : ' (run npm run demo -- --keep to keep it running and explore Fauxton)'}`);
}
process.exit(failed ? 1 : 0);
