/**
 * Many pilots on one server: what hundreds of Slurm array pilots do to one CouchDB. Each size runs its logical
 * pilots in a few processes (claimer-process.ts: the real claim and completion code, a no-op command), over a
 * fresh pool, and reports tokens/s, 409s per claim, server CPU per token and the claim latency p99.
 */
import { execa } from 'execa';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt } from './number-format.js';

export interface ManyClaimersRow {
  pilots: number;
  processes: number;
  tokens: number;
  tokensPerSec: number;
  conflictsPerClaim: number;
  requestsPerToken: number;
  serverCpuMsPerToken: number;
  claimP99Ms: number;
  lost: number;
}

export interface ManyClaimersDeps {
  /** a fresh database with the design documents and `tokens` todo tokens */
  pool(db: string, tokens: number): Promise<void>;
  /** env for the claimer processes (PICAS_URL, PICAS_DB, credentials) */
  env(db: string): Record<string, string>;
  /** the server's CPU so far (ms), NaN when it is not on this machine */
  serverCpuMs(): number;
  /** tokens left not done afterwards */
  notDone(db: string): Promise<number>;
}

const here = dirname(fileURLToPath(import.meta.url));

export async function manyClaimers(deps: ManyClaimersDeps, sizes: Array<{ pilots: number; tokens: number }>, progress: (line: string) => void): Promise<ManyClaimersRow[]> {
  const rows: ManyClaimersRow[] = [];
  for (const { pilots, tokens } of sizes) {
    const db = `bench_many_${pilots}`;
    await deps.pool(db, tokens);
    const processes = Math.min(4, Math.max(1, Math.ceil(pilots / 64)));
    const cpu0 = deps.serverCpuMs();
    const t0 = performance.now();
    const children = Array.from({ length: processes }, (_, p) =>
      execa(process.execPath, [join(here, 'claimer-process.js')], {
        env: { ...deps.env(db), PICAS_BENCH_PILOTS: String(Math.ceil(pilots / processes)), PICAS_BENCH_PROC: String(p) },
        reject: false,
        timeout: 900_000,
      }),
    );
    const results = await Promise.all(children);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = deps.serverCpuMs() - cpu0;
    const parsed = results.map((r) => {
      if (r.timedOut) throw new Error(`${pilots} light pilots: a claimer process did not finish within 15 min (server too slow for this many pilots)`);
      if (r.exitCode !== 0) throw new Error(`a claimer process failed (exit ${r.exitCode}): ${String(r.stderr).slice(-500)}`);
      return JSON.parse(String(r.stdout).trim().split('\n').at(-1)!) as { done: number; lost: number; attempts: number; conflicts: number; requests: number; latencies: number[] };
    });
    const done = parsed.reduce((n, p) => n + p.done, 0);
    const latencies = parsed.flatMap((p) => p.latencies).sort((a, b) => a - b);
    const left = await deps.notDone(db);
    if (left > 0 || done !== tokens) throw new Error(`${pilots} light pilots: ${done} of ${tokens} tokens done, ${left} not done`);
    const row: ManyClaimersRow = {
      pilots,
      processes,
      tokens,
      tokensPerSec: done / seconds,
      conflictsPerClaim: parsed.reduce((n, p) => n + p.conflicts, 0) / Math.max(1, parsed.reduce((n, p) => n + p.attempts, 0)),
      requestsPerToken: parsed.reduce((n, p) => n + p.requests, 0) / tokens,
      serverCpuMsPerToken: cpu / tokens,
      claimP99Ms: latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(0.99 * latencies.length))]! : NaN,
      lost: parsed.reduce((n, p) => n + p.lost, 0),
    };
    progress(`   ${pilots} light pilots in ${processes} processes: ${row.tokensPerSec.toFixed(0)} tokens/s, ${row.conflictsPerClaim.toFixed(3)} 409s/claim, server CPU ${row.serverCpuMsPerToken.toFixed(2)} ms/token, claim p99 ${row.claimP99Ms.toFixed(0)} ms`);
    rows.push(row);
  }
  return rows;
}

export function manyClaimersMarkdown(rows: ManyClaimersRow[]): string {
  return [
    '| light pilots (processes) | tokens | tokens/s | 409s/claim | requests/token | server CPU ms/token | claim p99 ms |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.pilots} (${r.processes}) | ${r.tokens} | ${fmt(r.tokensPerSec)} | ${fmt(r.conflictsPerClaim, 3)} | ${fmt(r.requestsPerToken, 2)} | ${fmt(r.serverCpuMsPerToken, 2)} | ${fmt(r.claimP99Ms, 0)} |`),
  ].join('\n');
}

/** The issue's targets: 409s/claim ≤ 0.3, and server CPU per token at the most pilots within 2× of 16 pilots'. */
export function manyClaimersTargets(rows: ManyClaimersRow[]) {
  const first = rows[0];
  const last = rows.at(-1);
  if (!first || !last) return [];
  const ratio = last.serverCpuMsPerToken / first.serverCpuMsPerToken;
  return [
    { target: `409s per claim <= 0.3 at ${last.pilots} light pilots`, value: `${last.conflictsPerClaim.toFixed(3)}`, ok: last.conflictsPerClaim <= 0.3, hard: false },
    { target: `server CPU per token at ${last.pilots} light pilots within 2 x of ${first.pilots}`, value: Number.isFinite(ratio) ? `${ratio.toFixed(2)} x` : 'n/a', ok: Number.isFinite(ratio) ? ratio <= 2 : true, hard: false },
  ];
}
