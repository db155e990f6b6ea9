/**
 * Tokens of mixed shapes (docs/resources.md): one pilot with `--cpus 4` drains a pool of 90 % one-core and
 * 10 % four-core tokens, and, beside it, the same number of one-core tokens (the uniform pool). Each token
 * sleeps and records when it started and ended, so the run shows how many of the pilot's cpus were busy while
 * tokens waited (the four-core tokens must not leave three cores idle for long), and the server's CPU per
 * token of both pools (the shape view must not make one-core pools, or mixed ones, cost more).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { picasEnv, type Http } from './bench-http.js';
import { createPoolDb, stateCounts } from './bench-db.js';
import { cliBin } from './bench-paths.js';
import { thisCheckout, type PilotCommand } from './end-to-end.js';
import type { Server } from './bench-server.js';
import { parsePilotSummary } from './pilot-summary.js';

export interface MixedPoolRun {
  name: string;
  tokens: number;
  seconds: number;
  /** busy cpu-seconds / (pilot cpus x the time until the last token started and while tokens ran) */
  cpusBusy: number;
  serverCpuMsPerToken: number;
  /** when the first and the last token of more than one core started, as fractions of the time from the first start to the last */
  largeStarts: [number, number];
  /** the pilot's HTTP requests per token, by kind (from its summary line) */
  requestsPerToken: RequestsPerToken;
  leftTodo: number;
}

export interface RequestsPerToken {
  all: number;
  viewReads: number;
  claimWrites: number;
  completionWrites: number;
  /** the rest: heartbeats, the pilot record, settles, sweeps */
  other: number;
}

export interface MixedPoolResult {
  mixed: MixedPoolRun;
  uniform: MixedPoolRun;
}

const PILOT_CPUS = 4;

async function drain(server: Server, http: Http, work: string, name: string, shapes: number[], sleepS: number, pilotCommand: PilotCommand): Promise<MixedPoolRun> {
  const db = `bench_shapes_${name}`;
  await createPoolDb(http, db);
  const ledger = join(work, `${db}.ledger`);
  writeFileSync(ledger, '');
  const file = join(work, `${db}.jsonl`);
  const lines = shapes.map((cpus, i) => JSON.stringify({ input: `s=$(date +%s.%N); sleep ${sleepS}; echo "${cpus} $s $(date +%s.%N)" >> ${ledger} # ${i}`, resources: { cpus } }));
  writeFileSync(file, lines.join('\n') + '\n');
  const env = picasEnv(server, db);
  const cpuAtStart = server.cpu().total;
  const started = Date.now() / 1000;
  const push = await execa(process.execPath, [cliBin, 'push', file], { env, reject: false });
  if (push.exitCode !== 0) throw new Error(`push failed: ${push.stderr}`);
  const pilot = await execa(pilotCommand.file, pilotCommand.args(['--cpus', String(PILOT_CPUS), '--log-format', 'json']), { env: { ...env, PICAS_LOG_LEVEL: 'info' }, reject: false, timeout: 900_000 });
  if (pilot.exitCode !== 0) throw new Error(`the pilot exited ${pilot.exitCode}: ${pilot.stderr.split('\n').slice(-3).join(' | ')}`);
  const seconds = Date.now() / 1000 - started;
  const serverCpu = server.cpu().total - cpuAtStart;
  const runs = readFileSync(ledger, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').map(Number) as [number, number, number]);
  const firstStart = Math.min(...runs.map((r) => r[1]));
  // tokens waited until the last one started: busy time over the pilot's cpus until then
  const lastStart = Math.max(...runs.map((r) => r[1]));
  const busy = runs.reduce((sum, [cpus, s, e]) => sum + cpus * Math.max(0, Math.min(e, lastStart) - s), 0);
  const large = runs.filter((r) => r[0] > 1).map((r) => (r[1] - firstStart) / (lastStart - firstStart));
  const summary = parsePilotSummary(pilot.stderr);
  const perToken = (n: number | undefined) => (n ?? NaN) / shapes.length;
  const all = perToken(summary.http_requests);
  const viewReads = perToken(summary.claims?.viewReads);
  const claimWrites = perToken(summary.claims?.writes);
  const completionWrites = perToken((summary.completions?.batches ?? 0) + (summary.completions?.singles ?? 0));
  const counts = await stateCounts(http, db);
  await http.call('DELETE', `/${db}`);
  return {
    name,
    tokens: shapes.length,
    seconds,
    cpusBusy: lastStart > firstStart ? busy / (PILOT_CPUS * (lastStart - firstStart)) : NaN,
    serverCpuMsPerToken: serverCpu / shapes.length,
    largeStarts: large.length ? [Math.min(...large), Math.max(...large)] : [NaN, NaN],
    requestsPerToken: { all, viewReads, claimWrites, completionWrites, other: all - viewReads - claimWrites - completionWrites },
    leftTodo: (counts.todo ?? 0) + (counts.locked ?? 0),
  };
}

export async function mixedPool(server: Server, http: Http, work: string, options: { tokens: number; sleepS: number; pilot?: PilotCommand }): Promise<MixedPoolResult> {
  const pilot = options.pilot ?? thisCheckout;
  // every tenth token needs the whole pilot; spread through the pool, as a real mix arrives
  const mixed = Array.from({ length: options.tokens }, (_, i) => (i % 10 === 9 ? PILOT_CPUS : 1));
  const uniform = Array.from({ length: options.tokens }, () => 1);
  return {
    uniform: await drain(server, http, work, 'uniform', uniform, options.sleepS, pilot),
    mixed: await drain(server, http, work, 'mixed', mixed, options.sleepS, pilot),
  };
}

export function mixedPoolTargets(r: MixedPoolResult) {
  const fmt2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
  const fmt3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');
  const requests = ({ requestsPerToken: q }: MixedPoolRun) => `${fmt3(q.all)}; ${[q.viewReads, q.claimWrites, q.completionWrites, q.other].map(fmt3).join(', ')}`;
  return [
    { target: `mixed pool (90 % 1-cpu, 10 % ${PILOT_CPUS}-cpu) on a ${PILOT_CPUS}-cpu pilot: cpus busy while tokens wait >= 0.9`, value: `${fmt2(r.mixed.cpusBusy)} (uniform pool: ${fmt2(r.uniform.cpusBusy)}; ${PILOT_CPUS}-cpu tokens started from ${fmt2(r.mixed.largeStarts[0])} to ${fmt2(r.mixed.largeStarts[1])} of the way)`, ok: r.mixed.cpusBusy >= 0.9, hard: false },
    {
      target: 'mixed pool: server CPU per token within 1.1 x the uniform pool\'s',
      value: `${fmt2(r.mixed.serverCpuMsPerToken / r.uniform.serverCpuMsPerToken)} x (${fmt2(r.mixed.serverCpuMsPerToken)} vs ${fmt2(r.uniform.serverCpuMsPerToken)} ms)`,
      ok: r.mixed.serverCpuMsPerToken <= 1.1 * r.uniform.serverCpuMsPerToken,
      hard: false,
    },
    { target: 'requests per token, mixed (uniform): all; view reads, claim writes, completion writes, other', value: `${requests(r.mixed)} (${requests(r.uniform)})`, ok: true, hard: false },
    { target: 'mixed and uniform pools drained (none left todo or locked)', value: `${r.mixed.leftTodo} / ${r.uniform.leftTodo}`, ok: r.mixed.leftTodo === 0 && r.uniform.leftTodo === 0, hard: true },
  ];
}
