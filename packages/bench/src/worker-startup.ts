/**
 * Start-up of a pilot: the self-contained bundle (dist/picas-worker.mjs, what the launchers stage to a
 * cluster) against the multi-file picas-worker (packages/worker/dist/src/bin.js with node_modules), side by
 * side in one run. 1,000 array tasks start 1,000 pilots, so this is paid 1,000 times.
 *
 * Each start is a real one, with the pilot's node flags: `empty pool` connects to CouchDB, finds no token and
 * exits (what a pilot does when the work is gone); `--help` loads the option parser. Runs alternate between
 * the two, after one warm-up each. Wall time is measured from spawn to exit; CPU time (user + system, all
 * threads) is what the process reports at its `exit` event (through a one-line --import preload, the same
 * for both). `node -e 0` is the floor: node's own start.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
import { DESIGN_DOCS } from '@picas/core';
import { root, workerCommand } from './bench-paths.js';
import { fmt } from './number-format.js';

export const bundleFile = join(root, 'dist', 'picas-worker.mjs');
// the multi-file start exactly as the launchers make it: node <pilot flags> .../packages/worker/dist/src/bin.js
const installed = workerCommand;
const WORKER_NODE_FLAGS = installed.args.slice(0, -1);
const multiFile = installed.args[installed.args.length - 1]!;

export interface StartupRow {
  what: string;
  runs: number;
  wallMedianMs: number;
  cpuMedianMs: number;
}

export interface WorkerStartupResult {
  bundleBytes?: number;
  rows: StartupRow[];
  /** multi-file / bundle, empty-pool start (>1: the bundle is faster) */
  wallSpeedup?: number;
  cpuSpeedup?: number;
  note?: string;
}

interface Target {
  url: string;
  username?: string;
  password?: string;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function once(args: string[], env: Record<string, string | undefined>, cpuFile: string): Promise<{ wallMs: number; cpuMs: number }> {
  rmSync(cpuFile, { force: true });
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env: { ...env, PICAS_BENCH_CPU_FILE: cpuFile }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    child.once('error', reject);
    child.once('exit', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').pop()}`));
      const cpuMs = existsSync(cpuFile) ? Number(readFileSync(cpuFile, 'utf8')) : NaN;
      resolvePromise({ wallMs, cpuMs });
    });
  });
}

async function couch(target: Target, method: 'PUT' | 'DELETE', path: string, body: unknown, agent: Agent): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.username) headers.authorization = 'Basic ' + Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64');
  const res = await request(target.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), dispatcher: agent });
  await res.body.text();
  if (res.statusCode >= 400 && method === 'PUT') throw new Error(`PUT ${path}: ${res.statusCode}`);
}

export async function measureWorkerStartup(target: Target, options: { runs: number }): Promise<WorkerStartupResult> {
  if (!existsSync(bundleFile)) return { rows: [], note: `${bundleFile} is not built (npm run bundle)` };
  const bundleBytes = statSync(bundleFile).size;
  const work = mkdtempSync(join(tmpdir(), 'picas-bench-startup-'));
  const preload = join(work, 'cpu-at-exit.mjs');
  writeFileSync(
    preload,
    "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => { const u = process.cpuUsage(); writeFileSync(process.env.PICAS_BENCH_CPU_FILE, String((u.user + u.system) / 1000)); });\n",
  );
  const cpuFile = join(work, 'cpu');
  const agent = new Agent({ connections: 2 });
  const db = `bench_startup_${randomBytes(3).toString('hex')}`;
  try {
    await couch(target, 'PUT', `/${db}`, undefined, agent);
    for (const d of DESIGN_DOCS) await couch(target, 'PUT', `/${db}/${d._id}`, d, agent);
    const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, PICAS_URL: target.url, PICAS_DB: db, PICAS_USERNAME: target.username, PICAS_PASSWORD: target.password };
    const pre = ['--import', pathToFileURL(preload).href];
    const starts: Array<[string, string[]]> = [
      ['node -e 0 (node\'s own start, the floor)', [...pre, '-e', '0']],
      ['multi-file picas-worker, empty pool', [...pre, ...WORKER_NODE_FLAGS, multiFile]],
      ['bundle, empty pool', [...pre, ...WORKER_NODE_FLAGS, bundleFile]],
      ['multi-file picas-worker --help', [...pre, ...WORKER_NODE_FLAGS, multiFile, '--help']],
      ['bundle --help', [...pre, ...WORKER_NODE_FLAGS, bundleFile, '--help']],
      ['bundle --version', [...pre, ...WORKER_NODE_FLAGS, bundleFile, '--version']],
    ];
    const samples = starts.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
    for (const [, args] of starts) await once(args, env, cpuFile); // warm-up: file cache
    for (let i = 0; i < options.runs; i++) {
      for (let k = 0; k < starts.length; k++) {
        const r = await once(starts[k]![1], env, cpuFile);
        samples[k]!.wall.push(r.wallMs);
        samples[k]!.cpu.push(r.cpuMs);
      }
    }
    const rows = starts.map(([what], k) => ({ what, runs: options.runs, wallMedianMs: median(samples[k]!.wall), cpuMedianMs: median(samples[k]!.cpu) }));
    return { bundleBytes, rows, wallSpeedup: rows[1]!.wallMedianMs / rows[2]!.wallMedianMs, cpuSpeedup: rows[1]!.cpuMedianMs / rows[2]!.cpuMedianMs };
  } finally {
    await couch(target, 'DELETE', `/${db}`, undefined, agent).catch(() => undefined);
    await agent.close();
    rmSync(work, { recursive: true, force: true });
  }
}


export function renderWorkerStartup(r: WorkerStartupResult | undefined): string {
  if (!r) return '';
  if (r.note) return `\n## picas-worker start-up\n\nnot measured: ${r.note}\n`;
  const rows = r.rows.map((row) => `| ${row.what} | ${fmt(row.wallMedianMs)} | ${fmt(row.cpuMedianMs)} |`).join('\n');
  return `
## picas-worker start-up: self-contained bundle vs multi-file

The bundle (dist/picas-worker.mjs, staged by the launchers) is ${fmt((r.bundleBytes ?? 0) / 1024, 0)} KiB (${fmt((r.bundleBytes ?? 0) / 1024 / 1024, 2)} MiB; FirecREST's direct upload takes up to 5 MiB).
Medians of ${r.rows[0]?.runs ?? 0} alternating starts each, with the pilot's node flags; CPU is user + system of all threads.

| start | wall ms | CPU ms |
|---|---|---|
${rows}

Empty-pool start, multi-file / bundle: wall ${fmt(r.wallSpeedup, 2)} x, CPU ${fmt(r.cpuSpeedup, 2)} x.
`;
}
