#!/usr/bin/env node
/**
 * `npm run bench [-- --quick] [-- --url URL]`: measures side by side, in one run, on the embedded server and
 * on a real CouchDB (a single node started from ../shared/couchdb when that folder exists, or `--url`), each:
 *   1. the server's ceiling: conditional single-doc PUT updates/s with 16 connections, and _bulk_docs inserts/s (2 lanes);
 *   2. `picas push` of a .txt file, as a ratio to the raw _bulk_docs rate;
 *   3. end to end (push to last token done) for 1, 4 and 16 worker processes, 1 process with --slots 16, and
 *      the --prefetch mode, with 409s/claim, requests/token, double executions, tokens left locked,
 *      claim latency p50/p99 and peak worker RSS;
 *   4. `picas status` latency on a large database after its views are built;
 *   5. picas-worker start-up, the self-contained bundle against the multi-file start (worker-startup.ts).
 * Prints a table, writes bench/results.json and bench/results.md, and exits non-zero when a hard target
 * (zero double executions, zero tokens left locked) fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { cpuTimeMs, DESIGN_DOCS, isLoopbackHost, newToken, type TokenDoc } from '@picas/core';
import { textTokenHash } from '@picas/core/token-text-stream';
import { resolveWorkerCommand } from '@picas/launch/worker-command';
import { runPicasBaseline } from './picas-baseline.js';
import { measureWorkerStartup, renderWorkerStartup } from './worker-startup.js';
import { dagBench, dagMarkdown, dagTargets } from './dag-bench.js';
import { manyClaimers, manyClaimersMarkdown, manyClaimersTargets } from './many-claimers.js';
import { comparePilotRecords } from './pilot-records.js';
import { measureScale, scaleMarkdown, type ScaleResult } from './scale.js';
import { Http, picasEnv } from './bench-http.js';
import { dashboardBench } from './dashboard-bench.js';
import { revisionFloor, type RevisionFloor } from './revision-floor.js';
import { beamCpu, couchdbScript, findBeamPid, startCouchDB, type ServerCpu } from './couchdb-server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const cliBin = join(root, 'packages/cli/dist/src/bin.js');
// pilots start as `picas launch` and the Slurm/FirecREST pilot scripts start them (with the pilot's node options)
const workerCommand = resolveWorkerCommand({ env: {} });
const workerStart = (args: string[]) => [...workerCommand.args, ...args];

interface Args {
  quick: boolean;
  url?: string;
  /** which servers to measure: the embedded one, and a real CouchDB (../shared/couchdb or --url) */
  servers: Set<'embedded' | 'couchdb'>;
  couchdbPort?: number;
  username?: string;
  password?: string;
  out: string;
  /** `--scale`: the large-pool bench (scale.ts), instead of the default run */
  scale?: boolean;
  scaleTokens?: number;
  scaleDrain?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, out: join(root, 'bench'), servers: new Set(['embedded', 'couchdb']) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--url') args.url = argv[++i];
    else if (a === '--out') args.out = resolve(argv[++i]!);
    else if (a === '--only') args.servers = new Set([argv[++i] as 'embedded' | 'couchdb']);
    else if (a === '--couchdb-port') args.couchdbPort = Number(argv[++i]);
    else if (a === '--scale') args.scale = true;
    else if (a === '--scale-tokens') args.scaleTokens = positiveInt(a, argv[++i]);
    else if (a === '--scale-drain') args.scaleDrain = positiveInt(a, argv[++i]);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run bench [-- --quick | --scale [--scale-tokens N] [--scale-drain N]] [-- --url URL] [-- --only embedded|couchdb] [-- --couchdb-port N] [-- --out DIR]\n  credentials: PICAS_USERNAME / PICAS_PASSWORD\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  args.username = process.env.PICAS_USERNAME;
  args.password = process.env.PICAS_PASSWORD;
  return args;
}

interface Server {
  /** 'embedded' or 'couchdb' (a real CouchDB: started from ../shared/couchdb, or --url) */
  kind: 'embedded' | 'couchdb';
  label: string;
  url: string;
  username?: string;
  password?: string;
  /** the server's CPU time so far (ms), when its process is on this machine */
  cpu(): ServerCpu;
  stop(): Promise<void>;
}

const noCpu = (): ServerCpu => ({ total: NaN, beam: NaN, js: NaN });

async function startServer(): Promise<Server> {
  const password = randomBytes(12).toString('base64url');
  const child = spawn(process.execPath, ['--max-old-space-size=8192', join(root, 'packages/server/dist/src/main.js'), '--in-memory'], {
    env: { ...process.env, PICAS_SERVER_ADMIN_USER: 'admin', PICAS_SERVER_ADMIN_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', (l) => res(JSON.parse(l).url));
    child.once('exit', (c) => rej(new Error(`embedded server exited (${c})`)));
  });
  const pid = child.pid!;
  return {
    kind: 'embedded',
    label: 'embedded (express-pouchdb, in memory)',
    url,
    username: 'admin',
    password,
    cpu: () => {
      const total = cpuTimeMs(pid);
      return { total, beam: NaN, js: NaN };
    },
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function createDb(http: Http, name: string, withViews: boolean) {
  await http.call('DELETE', `/${name}`);
  const r = await http.call('PUT', `/${name}`);
  if (r.status >= 300) throw new Error(`cannot create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  if (withViews) for (const d of DESIGN_DOCS) await http.call('PUT', `/${name}/${d._id}`, d);
}

/** 1a. conditional single-doc PUT updates/s from 16 concurrent clients, each updating its own documents. */
async function putCeiling(http: Http, seconds: number): Promise<number> {
  const db = 'bench_put';
  await createDb(http, db, false);
  const clients = 16;
  const docsPerClient = 8;
  const revs = new Map<string, string>();
  const docs = Array.from({ length: clients * docsPerClient }, (_, i) => ({ _id: `d${i}`, n: 0 }));
  const bulk = await http.call('POST', `/${db}/_bulk_docs`, { docs });
  for (const r of bulk.body) revs.set(r.id, r.rev);
  let count = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      let k = 0;
      while (Date.now() < deadline) {
        const id = `d${c * docsPerClient + (k++ % docsPerClient)}`;
        const r = await http.call('PUT', `/${db}/${id}`, { _id: id, _rev: revs.get(id), n: k });
        if (r.status === 201 || r.status === 202) {
          revs.set(id, r.body.rev);
          count++;
        }
      }
    }),
  );
  await http.call('DELETE', `/${db}`);
  return count / seconds;
}

/**
 * 1b. _bulk_docs inserts/s from a 2-lane client (two requests in flight, batches of 2,000), of the very
 * documents `picas push` writes for the push file of step 2 (pushFileLine): the same inputs, the same ids
 * (`token_` + the content hash), the same key order. The documents are made before the clock starts.
 */
async function bulkCeiling(http: Http, total: number): Promise<number> {
  const db = 'bench_bulk';
  await createDb(http, db, false);
  const batch = 2000;
  const batches: TokenDoc[][] = [];
  for (let i = 0; i < total; i += batch) {
    batches.push(Array.from({ length: Math.min(batch, total - i) }, (_, j) => newToken(`token_${textTokenHash(pushFileLine(i + j))}`, pushFileLine(i + j))));
  }
  const started = performance.now();
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < batches.length) {
        const docs = batches[next++]!;
        const r = await http.call('POST', `/${db}/_bulk_docs`, { docs });
        if (r.status >= 300) throw new Error(`bulk insert failed: ${r.status}`);
      }
    }),
  );
  const rate = total / ((performance.now() - started) / 1000);
  await http.call('DELETE', `/${db}`);
  return rate;
}

/** Line i of the push file (step 2), also the input of the i-th _bulk_docs document (step 1b). */
const pushFileLine = (i: number) => `echo token ${i}`;


/** 2. `picas push` of a .txt file with `count` lines, wall time of the whole command. */
async function pushRate(server: Server, http: Http, count: number, work: string, db: string): Promise<{ rate: number; seconds: number; peakRssMb: number }> {
  await createDb(http, db, false);
  const file = join(work, `push-${count}.txt`);
  // written in pieces: a million lines as one string would weigh on the bench, not on the push
  writeFileSync(file, '');
  for (let i = 0; i < count; i += 100_000) appendFileSync(file, Array.from({ length: Math.min(100_000, count - i) }, (_, j) => pushFileLine(i + j) + '\n').join(''));
  const started = performance.now();
  const child = execa(process.execPath, [cliBin, 'push', file], { env: picasEnv(server, db), reject: false });
  // the push's peak RSS (VmHWM), sampled until it exits
  let peakRssMb = NaN;
  const sample = () => {
    const m = /VmHWM:\s+(\d+) kB/.exec((() => { try { return readFileSync(`/proc/${child.pid}/status`, 'utf8'); } catch { return ''; } })());
    if (m) peakRssMb = Number(m[1]) / 1024;
  };
  const sampler = setInterval(sample, 100);
  const r = await child;
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  if (r.exitCode !== 0) throw new Error(`picas push failed: ${r.stderr}`);
  return { rate: count / seconds, seconds, peakRssMb };
}

/** What the bench reads from a worker's summary JSON log line (`"summary": true`). */
interface WorkerSummary {
  done?: number;
  failed?: number;
  claimed?: number;
  http_requests?: number;
  peak_rss_mb?: number;
  cpu_ms?: number;
  commands_cpu_ms?: number;
  claims?: { won?: number; conflicts?: number; accepted?: number; attempts?: number };
  claim_latency_ms?: { n: number; p50: number; p99: number };
}

function parseSummary(stderr: string): WorkerSummary {
  const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
  for (const line of lines.reverse()) {
    try {
      const obj = JSON.parse(line);
      if (obj.summary === true) return obj as WorkerSummary;
    } catch {
      // not JSON
    }
  }
  return {};
}

/** Executions beyond the first, over all tokens (from a count of runs per token id). */
function doubleRuns(runs: Map<string, number>): number {
  return [...runs.values()].filter((n) => n > 1).reduce((a, n) => a + n - 1, 0);
}

/** Tokens per state, from PiCaS' overview_total view. */
async function stateCounts(http: Http, db: string): Promise<Record<string, number>> {
  const overview = await http.call('GET', `/${db}/_design/Monitor/_view/overview_total?group=true`);
  const counts: Record<string, number> = {};
  for (const row of overview.body.rows ?? []) counts[row.key] = row.value;
  return counts;
}

interface E2EResult {
  name: string;
  tokens: number;
  tokensPerSec: number;
  conflictsPerClaim: number;
  requestsPerToken: number;
  doubleExecutions: number;
  missing: number;
  leftLocked: number;
  leftTodo: number;
  claimP50Ms: number;
  claimP99Ms: number;
  peakRssMb: number;
  /** CPU per token (ms): the server, the pilot processes, the commands they ran */
  cpuMsPerToken: { server: number; pilots: number; commands: number };
  /** a real CouchDB's server CPU per token, split: its Erlang VM and its couchjs processes */
  serverCpuMsPerToken?: { beam: number; js: number };
}

function cpuSince(server: Server, start: ServerCpu): ServerCpu {
  const now = server.cpu();
  return { total: now.total - start.total, beam: now.beam - start.beam, js: now.js - start.js };
}

async function endToEnd(server: Server, http: Http, work: string, name: string, tokens: number, procs: number, workerArgs: string[]): Promise<E2EResult> {
  const db = `bench_e2e_${name.replace(/[^a-z0-9]+/g, '_')}`;
  await createDb(http, db, true);
  // build the views once, before the clock starts (as `picas init` does)
  await http.call('GET', `/${db}/_design/picas_claim/_view/todo_by_priority?limit=1`);
  await http.call('GET', `/${db}/_design/Monitor/_view/overview_total?group=true`);
  const execLog = join(work, `${db}.log`);
  writeFileSync(execLog, '');
  const file = join(work, `${db}.txt`);
  writeFileSync(file, Array.from({ length: tokens }, (_, i) => `echo "$PICAS_TOKEN_ID" >> ${execLog} # ${i}`).join('\n') + '\n');
  const env = picasEnv(server, db);
  const started = performance.now();
  const serverCpuAtStart = server.cpu();
  const push = await execa(process.execPath, [cliBin, 'push', file], { env, reject: false });
  if (push.exitCode !== 0) throw new Error(`push failed: ${push.stderr}`);
  const runs = await Promise.all(
    Array.from({ length: procs }, () => execa(workerCommand.file, workerStart(workerArgs), { env: { ...env, PICAS_LOG_LEVEL: 'info' }, reject: false, timeout: 900_000 })),
  );
  const seconds = (performance.now() - started) / 1000;
  const serverCpu = cpuSince(server, serverCpuAtStart);
  const summaries = runs.map((r) => parseSummary(r.stderr));
  const failedRuns = runs.filter((r) => r.exitCode !== 0);
  if (failedRuns.length) process.stderr.write(`  ${failedRuns.length} worker(s) exited non-zero: ${failedRuns[0]!.stderr.split('\n').slice(-3).join(' | ')}\n`);
  const lines = readFileSync(execLog, 'utf8').split('\n').filter(Boolean);
  const seen = new Map<string, number>();
  for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
  const doubles = doubleRuns(seen);
  const counts = await stateCounts(http, db);
  const sum = (f: (s: WorkerSummary) => number | undefined) => summaries.reduce((a, s) => a + (f(s) ?? 0), 0);
  const claims = sum((s) => s.claims?.won);
  // per-worker percentiles, combined: the median of the medians, the worst p99
  const p50s = summaries.map((s) => s.claim_latency_ms?.p50).filter((v): v is number => typeof v === 'number' && (v > 0 || summaries.length === 1));
  const result: E2EResult = {
    name,
    tokens,
    tokensPerSec: tokens / seconds,
    conflictsPerClaim: claims ? sum((s) => s.claims?.conflicts) / claims : NaN,
    requestsPerToken: sum((s) => s.http_requests) / tokens,
    doubleExecutions: doubles,
    missing: tokens - seen.size,
    leftLocked: counts.locked ?? 0,
    leftTodo: counts.todo ?? 0,
    claimP50Ms: percentile(p50s, 50),
    claimP99Ms: Math.max(...summaries.map((s) => s.claim_latency_ms?.p99 ?? NaN)),
    peakRssMb: Math.max(...summaries.map((s) => s.peak_rss_mb ?? NaN)),
    serverCpuMsPerToken: { beam: serverCpu.beam / tokens, js: serverCpu.js / tokens },
    cpuMsPerToken: {
      server: serverCpu.total / tokens,
      pilots: sum((s) => s.cpu_ms) / tokens,
      commands: summaries.some((s) => s.commands_cpu_ms === undefined) ? NaN : sum((s) => s.commands_cpu_ms) / tokens,
    },
  };
  await http.call('DELETE', `/${db}`);
  return result;
}

/** RSS of one idle worker in --endless mode on an empty pool (sampled from /proc after it settles). */
async function idleWorkerRss(server: Server, http: Http): Promise<number> {
  const db = 'bench_idle';
  await createDb(http, db, true);
  const child = execa(workerCommand.file, workerStart(['--endless']), { env: picasEnv(server, db), reject: false });
  await new Promise((r) => setTimeout(r, 4000));
  let rssMb = NaN;
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    if (m) rssMb = Number(m[1]) / 1024;
  } catch {
    // not on Linux
  }
  child.kill('SIGTERM');
  await child;
  await http.call('DELETE', `/${db}`);
  return rssMb;
}

/** The Python PiCaS claim loop with `clients` concurrent pilots, on the same server, as the baseline. */
async function picasBaseline(server: Server, http: Http, tokens: number, clients: number): Promise<E2EResult> {
  const db = `bench_baseline_${clients}`;
  await createDb(http, db, true);
  for (let i = 0; i < tokens; i += 5000) {
    const docs = Array.from({ length: Math.min(5000, tokens - i) }, (_, j) => newToken(`token_${i + j}`, 'true'));
    await http.call('POST', `/${db}/_bulk_docs`, { docs });
  }
  await http.call('GET', `/${db}/_design/Monitor/_view/todo?limit=1`);
  const cpuAtStart = server.cpu();
  const r = await runPicasBaseline(http, db, clients);
  const serverCpu = cpuSince(server, cpuAtStart);
  const doubles = doubleRuns(r.executions);
  const counts = await stateCounts(http, db);
  await http.call('DELETE', `/${db}`);
  const claims = [...r.executions.values()].reduce((a, n) => a + n, 0);
  return {
    name: `PiCaS-style loop, ${clients} clients (baseline)`,
    tokens,
    tokensPerSec: tokens / r.seconds,
    conflictsPerClaim: claims ? r.conflicts / claims : NaN,
    requestsPerToken: r.requests / tokens,
    doubleExecutions: doubles,
    missing: tokens - r.executions.size,
    leftLocked: counts.locked ?? 0,
    leftTodo: counts.todo ?? 0,
    claimP50Ms: NaN,
    claimP99Ms: NaN,
    peakRssMb: NaN,
    serverCpuMsPerToken: { beam: serverCpu.beam / tokens, js: serverCpu.js / tokens },
    cpuMsPerToken: { server: serverCpu.total / tokens, pilots: NaN, commands: NaN },
  };
}

/** 4. `picas status` latency on a database of `count` tokens, after the views are built (median of 5). */
async function statusLatency(server: Server, http: Http, count: number): Promise<{ medianMs: number; viewBuildSeconds: number }> {
  const db = 'bench_status';
  await createDb(http, db, true);
  for (let i = 0; i < count; i += 5000) {
    const docs = Array.from({ length: Math.min(5000, count - i) }, (_, j) => newToken(`token_${i + j}`, `echo ${i + j}`));
    await http.call('POST', `/${db}/_bulk_docs`, { docs });
  }
  // the first `picas status` right after the tokens are written: it waits for (and reports) the index build
  const t0 = performance.now();
  const first = await execa(process.execPath, [cliBin, 'status', '--json'], { env: picasEnv(server, db), reject: false });
  if (first.exitCode !== 0) throw new Error(`picas status right after writing ${count} tokens failed: ${first.stderr}`);
  const viewBuildSeconds = (performance.now() - t0) / 1000;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const r = await execa(process.execPath, [cliBin, 'status', '--json'], { env: picasEnv(server, db), reject: false });
    if (r.exitCode !== 0) throw new Error(`picas status failed: ${r.stderr}`);
    times.push(performance.now() - s);
  }
  await http.call('DELETE', `/${db}`);
  return { medianMs: percentile(times, 50), viewBuildSeconds };
}

/**
 * Server CPU per token at 4 and 16 pilots: <= 3 ms, and <= 1/8 of the PiCaS-protocol loop's in the same run;
 * each beside the server's own floor (revision-floor.ts), which no pilot can go below.
 */
function serverCpuTargets(e2e: E2EResult[], baseline: E2EResult, floor: RevisionFloor) {
  const out = [];
  const floorMs = floor.msPerToken;
  if (Number.isFinite(floorMs)) {
    out.push({ target: `the server's floor per token (its two revisions in _bulk_docs of ${floor.batch}, no reads) <= 3 ms`, value: `${fmt(floorMs, 2)} ms`, ok: floorMs <= 3, hard: false });
  }
  for (const name of ['4 workers', '16 workers']) {
    const r = e2e.find((e) => e.name === name);
    if (!r || !Number.isFinite(r.cpuMsPerToken.server)) continue;
    const ms = r.cpuMsPerToken.server;
    const base = baseline.cpuMsPerToken.server;
    const ofFloor = Number.isFinite(floorMs) ? `, ${fmt(ms / floorMs, 1)} x the floor` : '';
    out.push({ target: `server CPU per token at ${name} <= 3 ms`, value: `${fmt(ms, 2)} ms${ofFloor}`, ok: ms <= 3, hard: false });
    if (Number.isFinite(base)) out.push({ target: `server CPU per token at ${name} <= 1/8 of the PiCaS loop's`, value: `1/${fmt(base / ms, 1)} (${fmt(ms, 2)} vs ${fmt(base, 2)} ms; the floor: 1/${fmt(base / floorMs, 1)})`, ok: ms * 8 <= base, hard: false });
  }
  return out;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** The whole suite on one server. */
async function measure(server: Server, args: Args, work: string) {
  const http = new Http(server.url, server.username, server.password);
  const q = args.quick;
  const sizes = {
    putSeconds: q ? 1 : 8,
    bulk: q ? 2000 : 100_000,
    push: q ? 2000 : 100_000,
    /**
     * the push memory check (full runs on a real CouchDB only; the embedded server keeps everything in
     * memory): peak RSS of a plain `node` pushing this many lines
     */
    pushMemory: q || server.kind !== 'couchdb' ? 0 : 1_000_000,
    e2e: q ? 100 : 2000,
    e2eSlots: q ? 100 : 2000,
    status: q ? 2000 : 100_000,
    dashboard: q ? 2000 : 100_000,
    dashboardLoadSeconds: q ? 6 : 20,
    pilotRecordRounds: q ? 1 : 2,
  };
  process.stderr.write(`bench${q ? ' (quick)' : ''} against ${server.label} at ${server.url}\n`);
  try {
    process.stderr.write('1. server ceiling...\n');
    const putPerSec = await putCeiling(http, sizes.putSeconds);
    const bulkPerSec = await bulkCeiling(http, sizes.bulk);
    process.stderr.write(`   PUT ${fmt(putPerSec)}/s, _bulk_docs ${fmt(bulkPerSec)} docs/s\n2. push...\n`);
    const push = await pushRate(server, http, sizes.push, work, 'bench_push');
    await http.call('DELETE', '/bench_push');
    process.stderr.write(`   push ${fmt(push.rate)} tokens/s = ${fmt(push.rate / bulkPerSec, 2)} x _bulk_docs, peak RSS ${fmt(push.peakRssMb)} MB\n`);
    const pushMemory = sizes.pushMemory > 0 ? await pushRate(server, http, sizes.pushMemory, work, 'bench_push_memory') : undefined;
    if (pushMemory) {
      await http.call('DELETE', '/bench_push_memory');
      process.stderr.write(`   push of ${sizes.pushMemory} tokens: peak RSS ${fmt(pushMemory.peakRssMb)} MB, ${fmt(pushMemory.rate)} tokens/s\n`);
    }
    process.stderr.write('3. end to end...\n');
    const configs: Array<[string, number, string[], number]> = [
      ['1 worker', 1, [], sizes.e2e],
      ['4 workers', 4, [], sizes.e2e],
      ['16 workers', 16, [], sizes.e2e],
      ['1 worker --slots 16', 1, ['--slots', '16'], sizes.e2eSlots],
      // one claim PUT and one completion PUT per token: the only mode on a cluster (see cluster-safety)
      ['16 workers --prefetch 1', 16, ['--prefetch', '1'], sizes.e2e],
      ['4 workers --prefetch 8', 4, ['--prefetch', '8'], sizes.e2e],
      ['16 workers --prefetch 8 --slots 4', 16, ['--prefetch', '8', '--slots', '4'], sizes.e2e],
      ['1 worker --prefetch 16 --slots 16', 1, ['--prefetch', '16', '--slots', '16'], sizes.e2e],
    ];
    const e2e: E2EResult[] = [];
    for (const [name, procs, wargs, n] of configs) {
      const r = await endToEnd(server, http, work, name, n, procs, wargs);
      e2e.push(r);
      process.stderr.write(`   ${name}: ${fmt(r.tokensPerSec)} tokens/s, double ${r.doubleExecutions}, locked ${r.leftLocked}\n`);
    }
    const dag = await dagBench(
      { call: (m, p, b) => http.call(m, p, b), createDb: (db) => createDb(http, db, true), env: (db) => picasEnv(server, db), cliBin, worker: { file: workerCommand.file, args: workerStart }, work },
      q ? { chains: 20, length: 5, pilots: 4 } : { chains: 200, length: 10, pilots: 16 },
    );
    process.stderr.write(`   DAG: chains ${fmt(dag.chained.tokensPerSec)} tokens/s vs independent ${fmt(dag.independent.tokensPerSec)} (${fmt(dag.ratio, 2)} x)\n`);
    const pilotRecords = await comparePilotRecords((name, wargs) => endToEnd(server, http, work, name, sizes.e2e, 16, wargs), sizes.pilotRecordRounds, (l) => process.stderr.write(l + '\n'));
    const baseline = await picasBaseline(server, http, sizes.e2e, 16);
    process.stderr.write(`   ${baseline.name}: ${fmt(baseline.tokensPerSec)} tokens/s, double ${baseline.doubleExecutions}\n`);
    const floor = await revisionFloor({ call: (m, p, b) => http.call(m, p, b), createDb: (db) => createDb(http, db, true), serverCpuMs: () => server.cpu().total }, q ? 512 : 4096);
    process.stderr.write(`   the server's floor: ${fmt(floor.msPerToken, 2)} ms of CPU per token (its two revisions, _bulk_docs of ${floor.batch}, no reads)\n`);
    process.stderr.write('4. idle worker RSS and status latency...\n');
    const idleRss = await idleWorkerRss(server, http);
    const status = await statusLatency(server, http, sizes.status);
    process.stderr.write('5. picas-worker start-up, bundle vs multi-file...\n');
    const workerStartup = await measureWorkerStartup(server, { runs: q ? 3 : 20 });
    process.stderr.write('6. many light pilots on one server...\n');
    const many = await manyClaimers(
      {
        pool: async (db, count) => {
          await createDb(http, db, true);
          await http.call('GET', `/${db}/_design/picas_claim/_view/todo_by_priority?limit=1`);
          for (let i = 0; i < count; i += 2000) {
            const docs = Array.from({ length: Math.min(2000, count - i) }, (_, j) => newToken(`many_${String(i + j).padStart(7, '0')}`, 'true'));
            const r = await http.call('POST', `/${db}/_bulk_docs`, { docs });
            if (r.status >= 300) throw new Error(`cannot fill ${db}: ${r.status}`);
          }
          await http.call('GET', `/${db}/_design/picas_claim/_view/todo_by_priority?limit=1`);
        },
        env: (db) => picasEnv(server, db),
        serverCpuMs: () => server.cpu().total,
        notDone: async (db) => {
          const c = await stateCounts(http, db);
          return (c.todo ?? 0) + (c.locked ?? 0);
        },
      },
      // the embedded server (one Node process) cannot serve 1,024 light pilots within the claimer's 15 min
      q ? [{ pilots: 16, tokens: 300 }, { pilots: 256, tokens: 600 }] : [{ pilots: 16, tokens: 2000 }, { pilots: 256, tokens: 4000 }, ...(server.kind === 'couchdb' ? [{ pilots: 1024, tokens: 8192 }] : [])],
      (l) => process.stderr.write(l + '\n'),
    );
    process.stderr.write('7. picas dashboard...\n');
    const dashboard = await dashboardBench({ http, env: picasEnv(server, 'bench_dashboard'), cliBin, worker: { file: workerCommand.file, args: workerStart([]) }, tokens: sizes.dashboard, loadSeconds: sizes.dashboardLoadSeconds, progress: (l) => process.stderr.write(l + '\n') });

    const at16 = e2e.find((r) => r.name === '16 workers')!;
    const at16Single = e2e.find((r) => r.name === '16 workers --prefetch 1')!;
    const cores = availableParallelism();
    const cpu16 = at16.cpuMsPerToken.server + at16.cpuMsPerToken.pilots + at16.cpuMsPerToken.commands;
    const slots16 = e2e.find((r) => r.name === '1 worker --slots 16')!;
    // every configuration but --prefetch 1 claims (and completes) in bulk on this single node
    const bulk = e2e.filter((r) => !/--prefetch 1(\s|$)/.test(r.name));
    const targets = [
      { target: 'zero double executions (every run)', value: e2e.map((r) => r.doubleExecutions).join('/'), ok: e2e.every((r) => r.doubleExecutions === 0), hard: true },
      { target: 'zero tokens left locked or lost (every run)', value: e2e.map((r) => r.leftLocked + r.missing).join('/'), ok: e2e.every((r) => r.leftLocked === 0 && r.missing === 0), hard: true },
      { target: 'e2e at 16 workers >= 0.6 x (PUT ceiling / 2)', value: `${fmt(at16.tokensPerSec / (putPerSec / 2), 2)} x`, ok: at16.tokensPerSec >= 0.6 * (putPerSec / 2), hard: false },
      {
        target: `16 workers --prefetch 1 (one token per request, the cluster-safe path) >= 0.6 x (PUT ceiling / 2)`,
        value: `${fmt(at16Single.tokensPerSec / (putPerSec / 2), 2)} x (${fmt(at16Single.tokensPerSec / at16.tokensPerSec, 2)} x the default)`,
        ok: at16Single.tokensPerSec >= 0.6 * (putPerSec / 2),
        hard: false,
      },
      { target: '409s per claimed token at 16 workers <= 0.2', value: fmt(at16.conflictsPerClaim, 3), ok: at16.conflictsPerClaim <= 0.2, hard: false },
      { target: 'push >= 0.8 x raw _bulk_docs rate (2-lane client)', value: `${fmt(push.rate / bulkPerSec, 2)} x (${fmt(push.rate)} vs ${fmt(bulkPerSec)}/s)`, ok: push.rate >= 0.8 * bulkPerSec, hard: false },
      ...(pushMemory ? [{ target: `push of ${sizes.pushMemory} tokens: peak RSS <= 250 MB`, value: `${fmt(pushMemory.peakRssMb)} MB`, ok: pushMemory.peakRssMb <= 250, hard: false }] : []),
      { target: 'idle worker RSS <= 80 MB', value: `${fmt(idleRss)} MB`, ok: idleRss <= 80, hard: false },
      { target: 'worker RSS with 16 slots <= 120 MB', value: `${fmt(slots16.peakRssMb)} MB`, ok: slots16.peakRssMb <= 120, hard: false },
      { target: 'bundled picas-worker starts faster than the multi-file one (empty pool, CPU)', value: `${fmt(workerStartup.cpuSpeedup ?? NaN, 2)} x`, ok: (workerStartup.cpuSpeedup ?? 0) > 1, hard: false },
      ...dagTargets(dag),
      ...manyClaimersTargets(many),
      { target: '16 workers with pilot records >= 0.95 x with --no-pilot-record', value: `${fmt(pilotRecords.ratio, 3)} x (${fmt(pilotRecords.withRecords)} vs ${fmt(pilotRecords.withoutRecords)} tokens/s, ${pilotRecords.rounds} interleaved rounds)`, ok: pilotRecords.ratio >= 0.95, hard: false },
      { target: `dashboard first paint with ${sizes.dashboard} tokens <= 2 s`, value: `${fmt(dashboard.firstPaintMs / 1000, 2)} s (${dashboard.firstPaintHow})`, ok: dashboard.firstPaintMs <= 2000, hard: false },
      { target: 'view reads the dashboard adds under load <= 1/s', value: `${fmt(dashboard.load.viewReadsPerSec, 2)}/s (${dashboard.load.viewReads} in ${fmt(dashboard.load.seconds)} s, ${dashboard.load.tokensChanged} changes)`, ok: dashboard.load.viewReadsPerSec <= 1, hard: false },
      ...serverCpuTargets(e2e, baseline, floor),
      ...bulk.map((r) => ({ target: `${r.name} (bulk claims): tokens/s vs _bulk_docs ceiling`, value: `${fmt(r.tokensPerSec / bulkPerSec, 3)} x`, ok: true, hard: false })),
    ];
    const results = {
      date: new Date().toISOString(),
      quick: q,
      server: server.label,
      kind: server.kind,
      ceiling: { putPerSec, bulkDocsPerSec: bulkPerSec },
      push: { tokens: sizes.push, tokensPerSec: push.rate, ratioToBulk: push.rate / bulkPerSec, peakRssMb: push.peakRssMb },
      pushMemory: pushMemory ? { tokens: sizes.pushMemory, tokensPerSec: pushMemory.rate, peakRssMb: pushMemory.peakRssMb } : undefined,
      endToEnd: e2e,
      baseline,
      revisionFloor: floor,
      dag,
      manyClaimers: many,
      cpuCeiling: {
        cores,
        msPerTokenAt16: cpu16,
        tokensPerSecAt16: Number.isFinite(cpu16) ? (cores * 1000) / cpu16 : NaN,
      },
      idleWorkerRssMb: idleRss,
      status: { tokens: sizes.status, medianMs: status.medianMs, firstViewBuildSeconds: status.viewBuildSeconds },
      pilotRecords,
      dashboard,
      targets,
      workerStartup,
    };
    return results;
  } finally {
    await http.agent.close();
  }
}

async function realCouchDB(args: Args): Promise<Server | undefined> {
  if (args.url) {
    const url = new URL(args.url);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const pid = isLoopbackHost(url.hostname) ? findBeamPid(port) : undefined;
    return { kind: 'couchdb', label: `CouchDB at ${url.host}${pid ? '' : ' (its CPU is not on this machine)'}`, url: args.url.replace(/\/+$/, ''), username: args.username, password: args.password, cpu: () => (pid ? beamCpu(pid) : noCpu()), stop: async () => {} };
  }
  const script = couchdbScript(root);
  if (!script) return undefined;
  const node = await startCouchDB(script, args.couchdbPort);
  const version = await new Http(node.url, node.username, node.password).call('GET', '/').then((r) => r.body?.version as string | undefined).catch(() => undefined);
  return { kind: 'couchdb', label: `CouchDB ${version ?? '3.x'} single node (../shared/couchdb, default settings)`, url: node.url, username: node.username, password: node.password, cpu: () => (node.pid ? beamCpu(node.pid) : noCpu()), stop: node.stop };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.scale) return scaleMain(args);
  const work = mkdtempSync(join(tmpdir(), 'picas-bench-'));
  const runs: any[] = [];
  try {
    for (const kind of ['embedded', 'couchdb'] as const) {
      if (!args.servers.has(kind)) continue;
      const server = kind === 'embedded' ? await startServer() : await realCouchDB(args);
      if (!server) continue;
      try {
        runs.push(await measure(server, args, work));
      } finally {
        await server.stop();
      }
      // written after each server, so that a failure on the next one keeps what was measured
      writeResults(args, runs);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(renderAll(runs, args.quick) + '\n');
  const hardFail = runs.flatMap((r) => r.targets.filter((t: any) => t.hard && !t.ok).map((t: any) => `${t.target} (${r.server})`));
  if (hardFail.length) {
    process.stderr.write(`bench FAILED: ${hardFail.join('; ')}\n`);
    process.exitCode = 1;
  }
}

function writeResults(args: Args, runs: any[]): void {
  mkdirSync(args.out, { recursive: true });
  const suffix = args.quick ? '-quick' : '';
  writeFileSync(join(args.out, `results${suffix}.json`), JSON.stringify({ date: new Date().toISOString(), quick: args.quick, runs }, null, 2) + '\n');
  writeFileSync(join(args.out, `results${suffix}.md`), renderAll(runs, args.quick) + '\n');
}

function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a whole number above 0, not ${value ?? 'nothing'}`);
  return n;
}

/** `--scale` (scale.ts), on each chosen server, written to results-scale.{json,md}. */
async function scaleMain(args: Args) {
  const poolTokens = args.scaleTokens ?? 1_000_000;
  const results: ScaleResult[] = [];
  for (const kind of ['embedded', 'couchdb'] as const) {
    if (!args.servers.has(kind)) continue;
    const server = kind === 'embedded' ? await startServer() : await realCouchDB(args);
    if (!server) continue;
    try {
      results.push(await measureScale(server, { poolTokens, drain: args.scaleDrain ?? 1000, cliBin, worker: { file: workerCommand.file, args: workerStart }, log: (l) => process.stderr.write(l + '\n') }));
    } finally {
      await server.stop();
    }
  }
  const md = results.map(scaleMarkdown).join('\n\n');
  process.stdout.write(md + '\n');
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'results-scale.json'), JSON.stringify({ date: new Date().toISOString(), results }, null, 2) + '\n');
  writeFileSync(join(args.out, 'results-scale.md'), md + '\n');
}

function renderAll(runs: any[], quick: boolean): string {
  return [`# picas benchmark (${quick ? 'quick smoke run' : 'full run'}, ${new Date().toISOString()})`, '', ...runs.map((r) => renderMarkdown(r))].join('\n');
}



function serverCpuCell(e: E2EResult): string {
  const split = e.serverCpuMsPerToken;
  const parts = split && Number.isFinite(split.beam) ? ` (${fmt(split.beam, 2)} + ${fmt(split.js, 2)})` : '';
  return `${fmt(e.cpuMsPerToken.server, 2)}${parts}`;
}

function renderMarkdown(r: any): string {
  const e2eRows = r.endToEnd
    .map(
      (e: E2EResult) =>
        `| ${e.name} | ${e.tokens} | ${fmt(e.tokensPerSec)} | ${fmt(e.conflictsPerClaim, 3)} | ${fmt(e.requestsPerToken, 2)} | ${e.doubleExecutions} | ${e.leftLocked} | ${fmt(e.claimP50Ms)} / ${fmt(e.claimP99Ms)} | ${fmt(e.peakRssMb)} | ${serverCpuCell(e)} / ${fmt(e.cpuMsPerToken.pilots, 2)} / ${fmt(e.cpuMsPerToken.commands, 2)} |`,
    )
    .join('\n');
  const b: E2EResult = r.baseline;
  const baselineRow = `| ${b.name} | ${b.tokens} | ${fmt(b.tokensPerSec)} | ${fmt(b.conflictsPerClaim, 3)} | ${fmt(b.requestsPerToken, 2)} | ${b.doubleExecutions} | ${b.leftLocked} | n/a | n/a | ${serverCpuCell(b)} / n/a / n/a |`;
  const c = r.cpuCeiling;
  const targetRows = r.targets.map((t: any) => `| ${t.target} | ${t.value} | ${t.ok ? 'ok' : t.hard ? '**FAIL**' : 'missed'} |`).join('\n');
  return `## ${r.server}

All numbers in this section measured on this server, in the same run as the others.${r.kind === 'couchdb' ? ' Server CPU is beam.smp plus its couchjs processes (Erlang + JS in brackets), read from /proc.' : ''}

| ceiling | value |
|---|---|
| conditional single-doc PUTs/s, 16 connections | ${fmt(r.ceiling.putPerSec)} |
| _bulk_docs inserts/s (2 lanes of 2,000) | ${fmt(r.ceiling.bulkDocsPerSec)} |
| \`picas push\` tokens/s (${r.push.tokens} tokens, whole command) | ${fmt(r.push.tokensPerSec)} (${fmt(r.push.ratioToBulk, 2)} x bulk), peak RSS ${fmt(r.push.peakRssMb)} MB |
${r.pushMemory ? `| \`picas push\` of ${r.pushMemory.tokens} tokens: peak RSS, tokens/s | ${fmt(r.pushMemory.peakRssMb)} MB, ${fmt(r.pushMemory.tokensPerSec)} |\n` : ''}| \`picas status\` on ${r.status.tokens} tokens: right after writing them (index build included) / median after | ${fmt(r.status.firstViewBuildSeconds)} s / ${fmt(r.status.medianMs)} ms |
| idle worker RSS | ${fmt(r.idleWorkerRssMb)} MB |
| \`picas dashboard\`, ${r.dashboard.tokens} tokens: first paint (${r.dashboard.firstPaintHow}) | ${fmt(r.dashboard.firstPaintMs, 0)} ms |
| \`picas dashboard\` under load: view reads/s it adds, _changes requests/s | ${fmt(r.dashboard.load.viewReadsPerSec, 2)}, ${fmt(r.dashboard.load.changesRequestsPerSec, 2)} |
| \`picas dashboard\`: a change in CouchDB until the page shows it, median / max of ${r.dashboard.changeToPageMs.samples} | ${fmt(r.dashboard.changeToPageMs.median, 0)} / ${fmt(r.dashboard.changeToPageMs.max, 0)} ms |
| \`_design/picas_dashboard\` first build, ${r.dashboard.tokens} tokens | ${fmt(r.dashboard.viewBuildSeconds)} s |
| 16 workers with pilot records / with \`--no-pilot-record\` | ${fmt(r.pilotRecords.ratio, 3)} x |

| end to end (push → last done, input appends its id) | tokens | tokens/s | 409s/claim | requests/token | double runs | left locked | claim p50/p99 ms | peak RSS MB | CPU ms/token: server / pilots / commands |
|---|---|---|---|---|---|---|---|---|---|
${e2eRows}
${baselineRow}

Pilots, their commands and the server share this machine's ${c.cores} cores. At 16 workers one token costs
${fmt(c.msPerTokenAt16, 2)} ms of CPU in all (server, pilot processes including their start-up, and the bash
command), so this machine cannot go past about ${fmt(c.tokensPerSecAt16)} tokens/s in that configuration whatever
the number of requests.

${r.dag ? dagMarkdown(r.dag) + '\n' : ''}${r.manyClaimers ? `Many light pilots on one server (the real claim and completion code, a no-op command, a few processes):\n\n${manyClaimersMarkdown(r.manyClaimers)}\n\n` : ''}| target | measured | |
|---|---|---|
${targetRows}
${renderWorkerStartup(r.workerStartup)}`;
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
