/**
 * `npm run bench -- --scale [--scale-tokens N] [--scale-drain N]`: picas at the scale of a large pool (not
 * in CI). On one server, in one run:
 *  1. a pool of N tokens (default 1,000,000) is pushed (`_bulk_docs`) and all its views built, timed
 *     separately, before any clock starts;
 *  2. 4 pilots (`picas-worker` processes) drain D tokens (default 1,000) out of that pool, and the same D
 *     out of a 2,000-token pool: the rate ratio (target ≥ 0.8×) and the server CPU per token of each;
 *  3. `picas status`, `picas list --limit 100` and `picas reset` (of 10,000 tokens locked inside the large
 *     pool) timed at that scale.
 */
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { DESIGN_DOCS, newToken } from '@picas/core';
import type { ServerCpu } from './couchdb-server.js';
import { Http, picasEnv, type ServerAddress } from './bench-http.js';

export interface ScaleServer extends ServerAddress {
  label: string;
  cpu(): ServerCpu;
}

export interface ScaleOptions {
  poolTokens: number;
  drain: number;
  cliBin: string;
  worker: { file: string; args: (extra: string[]) => string[] };
  log: (line: string) => void;
}

const SMALL_POOL = 2000;
const PILOTS = 4;
const BULK = 10_000;

/** A fresh database with picas' design documents and `count` todo tokens (`_bulk_docs`, 10,000 a request). */
async function pushPool(http: Http, db: string, count: number, log: (l: string) => void): Promise<number> {
  await http.call('DELETE', `/${db}`);
  const created = await http.call('PUT', `/${db}`);
  if (created.status >= 300) throw new Error(`cannot create ${db}: ${created.status} ${JSON.stringify(created.body)}`);
  for (const d of DESIGN_DOCS) await http.call('PUT', `/${db}/${d._id}`, d);
  const started = performance.now();
  let lastLog = started;
  for (let i = 0; i < count; i += BULK) {
    const docs = Array.from({ length: Math.min(BULK, count - i) }, (_, j) => newToken(`t${String(i + j).padStart(8, '0')}`, 'true'));
    const r = await http.call('POST', `/${db}/_bulk_docs`, { docs });
    if (r.status >= 300) throw new Error(`pushing to ${db}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    if (performance.now() - lastLog > 15_000) {
      lastLog = performance.now();
      log(`   pushed ${i + docs.length} of ${count}`);
    }
  }
  return (performance.now() - started) / 1000;
}

/** Builds every view of the database (one read of each, waiting as long as the build takes). */
async function buildViews(http: Http, db: string): Promise<number> {
  const started = performance.now();
  for (const d of DESIGN_DOCS) {
    const view = Object.keys(d.views)[0]!;
    // one view of a design document builds all of them
    for (;;) {
      const r = await http.call('GET', `/${db}/${d._id}/_view/${view}?limit=1${d.views[view]!.reduce ? '&reduce=false' : ''}`);
      if (r.status === 200) break;
      if (r.status !== 500) throw new Error(`building ${d._id}: ${r.status} ${JSON.stringify(r.body)}`);
      // CouchDB's request timeout while the index builds: ask again
    }
  }
  return (performance.now() - started) / 1000;
}

interface Drain {
  pool: number;
  tokens: number;
  seconds: number;
  tokensPerSec: number;
  serverCpuMsPerToken: number;
}

/** 4 pilots claim and run `drain` tokens in all (each stops after its share). */
async function drainPool(server: ScaleServer, db: string, pool: number, drain: number, options: ScaleOptions): Promise<Drain> {
  const cpu0 = server.cpu().total;
  const started = performance.now();
  const share = Math.ceil(drain / PILOTS);
  const runs = await Promise.all(
    Array.from({ length: PILOTS }, () => execa(options.worker.file, options.worker.args(['--max-tokens', String(share)]), { env: picasEnv(server, db), reject: false, timeout: 3_600_000 })),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = server.cpu().total - cpu0;
  const failed = runs.filter((r) => r.exitCode !== 0);
  if (failed.length) options.log(`   ${failed.length} pilot(s) exited non-zero: ${failed[0]!.stderr.split('\n').slice(-3).join(' | ')}`);
  const tokens = share * PILOTS;
  return { pool, tokens, seconds, tokensPerSec: tokens / seconds, serverCpuMsPerToken: cpu / tokens };
}

async function timeCli(server: ScaleServer, db: string, cliBin: string, args: string[], extraEnv: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  const r = await execa(process.execPath, [cliBin, ...args], { env: { ...picasEnv(server, db), ...extraEnv }, reject: false, timeout: 3_600_000, buffer: { stdout: false }, stdout: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`picas ${args.join(' ')} failed (${r.exitCode}): ${String(r.stderr).slice(-500)}`);
  return (performance.now() - started) / 1000;
}

/** Locks `count` todo tokens of the pool (as a pilot's claim would, lease long expired), `_bulk_docs` in pages. */
async function lockTokens(http: Http, db: string, count: number): Promise<void> {
  const nowS = Math.floor(Date.now() / 1000);
  let startkey: string | undefined;
  let left = count;
  while (left > 0) {
    const q = `include_docs=true&limit=${Math.min(BULK, left)}${startkey ? `&startkey=${encodeURIComponent(JSON.stringify(startkey))}&skip=1` : ''}`;
    const r = await http.call('GET', `/${db}/_design/Monitor/_view/todo?${q}`);
    const rows = (r.body?.rows ?? []) as Array<{ key: string; doc: any }>;
    if (rows.length === 0) break;
    const docs = rows.map(({ doc }) => ({ ...doc, lock: nowS - 7200, hostname: 'bench', lease_until: nowS - 3600, worker_id: 'bench', claim_id: `bench:${doc._id}` }));
    await http.call('POST', `/${db}/_bulk_docs`, { docs });
    left -= rows.length;
    startkey = rows.at(-1)!.key;
  }
}

export interface ScaleResult {
  server: string;
  poolTokens: number;
  pushSeconds: number;
  viewBuildSeconds: number;
  large: Drain;
  small: Drain;
  rateRatio: number;
  statusSeconds: number;
  listLimitSeconds: number;
  reset: { tokens: number; seconds: number };
}

export async function measureScale(server: ScaleServer, options: ScaleOptions): Promise<ScaleResult> {
  const { log } = options;
  // a view of the large pool builds for minutes: calls may wait an hour for their answer
  const http = new Http(server.url, server.username, server.password, { timeoutMs: 60 * 60_000 });
  const big = 'bench_scale_large';
  const small = 'bench_scale_small';
  log(`scale bench against ${server.label} at ${server.url}: ${options.poolTokens} tokens, 4 pilots drain ${options.drain}`);
  log(`1. pushing ${options.poolTokens} tokens...`);
  const pushSeconds = await pushPool(http, big, options.poolTokens, log);
  log(`   pushed in ${pushSeconds.toFixed(1)} s; building the views...`);
  const viewBuildSeconds = await buildViews(http, big);
  log(`   views built in ${viewBuildSeconds.toFixed(1)} s`);
  await pushPool(http, small, SMALL_POOL, log);
  await buildViews(http, small);

  log(`2. 4 pilots drain ${options.drain} tokens from each pool...`);
  const large = await drainPool(server, big, options.poolTokens, options.drain, options);
  log(`   ${options.poolTokens}-token pool: ${large.tokensPerSec.toFixed(1)} tokens/s, server CPU ${large.serverCpuMsPerToken.toFixed(2)} ms/token`);
  const smallRun = await drainPool(server, small, SMALL_POOL, Math.min(options.drain, SMALL_POOL), options);
  log(`   ${SMALL_POOL}-token pool: ${smallRun.tokensPerSec.toFixed(1)} tokens/s, server CPU ${smallRun.serverCpuMsPerToken.toFixed(2)} ms/token`);

  log('3. commands at scale...');
  const statusSeconds = await timeCli(server, big, options.cliBin, ['status']);
  const listLimitSeconds = await timeCli(server, big, options.cliBin, ['list', '--limit', '100']);
  const resetCount = Math.min(10_000, Math.floor(options.poolTokens / 10));
  await lockTokens(http, big, resetCount);
  // the lock writes are indexed first (as a status would), so that the reset is timed alone
  await buildViews(http, big);
  const resetSeconds = await timeCli(server, big, options.cliBin, ['reset', '--expired']);
  log(`   status ${statusSeconds.toFixed(2)} s, list --limit 100 ${listLimitSeconds.toFixed(2)} s, reset --expired of ${resetCount} ${resetSeconds.toFixed(2)} s`);
  await http.call('DELETE', `/${big}`);
  await http.call('DELETE', `/${small}`);
  await http.close();
  return {
    server: server.label,
    poolTokens: options.poolTokens,
    pushSeconds,
    viewBuildSeconds,
    large,
    small: smallRun,
    rateRatio: large.tokensPerSec / smallRun.tokensPerSec,
    statusSeconds,
    listLimitSeconds,
    reset: { tokens: resetCount, seconds: resetSeconds },
  };
}

export function scaleMarkdown(r: ScaleResult): string {
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  return [
    `## scale: ${r.server}, ${r.poolTokens} tokens`,
    '',
    `- push ${r.poolTokens} tokens: ${f(r.pushSeconds)} s; view build: ${f(r.viewBuildSeconds)} s (both before the clock)`,
    '',
    '| pool | tokens drained (4 pilots) | tokens/s | server CPU ms/token |',
    '|---|---|---|---|',
    `| ${r.large.pool} | ${r.large.tokens} | ${f(r.large.tokensPerSec)} | ${f(r.large.serverCpuMsPerToken, 2)} |`,
    `| ${r.small.pool} | ${r.small.tokens} | ${f(r.small.tokensPerSec)} | ${f(r.small.serverCpuMsPerToken, 2)} |`,
    '',
    `- rate ratio (large / small pool): ${f(r.rateRatio, 2)}x (target >= 0.8x: ${r.rateRatio >= 0.8 ? 'ok' : 'MISSED'})`,
    `- picas status: ${f(r.statusSeconds, 2)} s; picas list --limit 100: ${f(r.listLimitSeconds, 2)} s; picas reset --expired of ${r.reset.tokens} locked tokens: ${f(r.reset.seconds, 2)} s`,
  ].join('\n');
}
