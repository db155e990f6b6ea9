/**
 * Step 3: end to end, push to last token done, with worker processes (their summary log lines read back),
 * and the Python PiCaS claim loop on the same server as the baseline row.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { newToken } from '@picas/core';
import { picasEnv, type Http } from './bench-http.js';
import { createDb, createPoolDb, stateCounts } from './bench-db.js';
import { cliBin, workerCommand, workerStart } from './bench-paths.js';
import type { Server } from './bench-server.js';
import type { ServerCpu } from './couchdb-server.js';
import { percentile } from './percentile.js';
import { parsePilotSummary, type PilotSummary } from './pilot-summary.js';
import { runPicasBaseline } from './picas-baseline.js';

/** Executions beyond the first, over all tokens (from a count of runs per token id). */
function doubleRuns(runs: Map<string, number>): number {
  return [...runs.values()].filter((n) => n > 1).reduce((a, n) => a + n - 1, 0);
}

export interface E2EResult {
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

/** How a pilot is started: this checkout's, by default; `--vs-worker` runs another build beside it (worker-vs.ts). */
export interface PilotCommand {
  file: string;
  args: (workerArgs: string[]) => string[];
}

export const thisCheckout: PilotCommand = { file: workerCommand.file, args: workerStart };

export async function endToEnd(server: Server, http: Http, work: string, name: string, tokens: number, procs: number, workerArgs: string[], pilot: PilotCommand = thisCheckout): Promise<E2EResult> {
  const db = `bench_e2e_${name.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`;
  await createPoolDb(http, db);
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
    Array.from({ length: procs }, () => execa(pilot.file, pilot.args(workerArgs), { env: { ...env, PICAS_LOG_LEVEL: 'info' }, reject: false, timeout: 900_000 })),
  );
  const seconds = (performance.now() - started) / 1000;
  const serverCpu = cpuSince(server, serverCpuAtStart);
  const summaries = runs.map((r) => parsePilotSummary(r.stderr));
  const failedRuns = runs.filter((r) => r.exitCode !== 0);
  if (failedRuns.length) process.stderr.write(`  ${failedRuns.length} worker(s) exited non-zero: ${failedRuns[0]!.stderr.split('\n').slice(-3).join(' | ')}\n`);
  const lines = readFileSync(execLog, 'utf8').split('\n').filter(Boolean);
  const seen = new Map<string, number>();
  for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
  const doubles = doubleRuns(seen);
  const counts = await stateCounts(http, db);
  const sum = (f: (s: PilotSummary) => number | undefined) => summaries.reduce((a, s) => a + (f(s) ?? 0), 0);
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

/** The Python PiCaS claim loop with `clients` concurrent pilots, on the same server, as the baseline. */
export async function picasBaseline(server: Server, http: Http, tokens: number, clients: number): Promise<E2EResult> {
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
