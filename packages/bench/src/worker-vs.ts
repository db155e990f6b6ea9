/**
 * `--vs-worker PATH`: this checkout's picas-worker against another build of it (e.g. the commit before a
 * change: `git worktree add ../before HEAD~1 && (cd ../before && npm ci && npm run build)`, then
 * `--vs-worker ../before/packages/worker/dist/src/bin.js`), on the same server, in one run. Each round runs
 * both at every pilot count, in alternating order (A B, then B A), so that a machine whose speed drifts
 * weighs on both alike. Prints the medians of tokens/s, requests per token and the server's CPU per token,
 * and their ratios this/other.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Http } from './bench-http.js';
import type { Server } from './bench-server.js';
import { endToEnd, type E2EResult, type PilotCommand } from './end-to-end.js';
import { fmt } from './number-format.js';
import { percentile } from './percentile.js';
import { WORKER_NODE_FLAGS } from '@picas/worker/node-flags';

export interface WorkerVsOptions {
  /** the other build's picas-worker entry (a bin.js or a bundled picas-worker.mjs) */
  other: string;
  rounds: number;
  pilots: number[];
  tokens: number;
}

export interface WorkerVsRow {
  pilots: number;
  build: 'this' | 'other';
  runs: E2EResult[];
}

export function otherPilot(path: string): PilotCommand {
  const bin = resolve(path);
  if (!existsSync(bin)) throw new Error(`--vs-worker: ${bin} does not exist (build that checkout first)`);
  return { file: process.execPath, args: (workerArgs) => [...WORKER_NODE_FLAGS, bin, ...workerArgs] };
}

export async function workerVs(server: Server, http: Http, work: string, options: WorkerVsOptions, log: (line: string) => void): Promise<WorkerVsRow[]> {
  const other = otherPilot(options.other);
  const rows: WorkerVsRow[] = options.pilots.flatMap((pilots) => [
    { pilots, build: 'this' as const, runs: [] },
    { pilots, build: 'other' as const, runs: [] },
  ]);
  for (let round = 0; round < options.rounds; round++) {
    for (const pilots of options.pilots) {
      const order: Array<'this' | 'other'> = round % 2 === 0 ? ['this', 'other'] : ['other', 'this'];
      for (const build of order) {
        const name = `vs ${build} ${pilots} pilots`;
        const r = await endToEnd(server, http, work, name, options.tokens, pilots, [], build === 'other' ? other : undefined);
        if (r.doubleExecutions > 0 || r.leftLocked > 0 || r.missing > 0) throw new Error(`${name}: ${r.doubleExecutions} double runs, ${r.leftLocked} left locked, ${r.missing} missing`);
        rows.find((row) => row.pilots === pilots && row.build === build)!.runs.push(r);
        log(`   round ${round + 1}, ${pilots} pilots, ${build}: ${fmt(r.tokensPerSec)} tokens/s, ${fmt(r.requestsPerToken, 2)} requests/token, server ${fmt(r.cpuMsPerToken.server, 2)} ms/token`);
      }
    }
  }
  return rows;
}

const median = (values: number[]) => percentile(values, 50);

export function workerVsMarkdown(rows: WorkerVsRow[], options: WorkerVsOptions, server: string): string {
  const out = [
    `## this picas-worker vs ${options.other}, ${server}`,
    '',
    `${options.rounds} rounds of ${options.tokens} tokens, alternated; medians, and the ratio this/other.`,
    '',
    '| pilots | tokens/s this | other | ratio | requests/token this | other | ratio | server CPU ms/token this | other | ratio |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const pilots of options.pilots) {
    const a = rows.find((r) => r.pilots === pilots && r.build === 'this')!.runs;
    const b = rows.find((r) => r.pilots === pilots && r.build === 'other')!.runs;
    const cells = [(r: E2EResult) => r.tokensPerSec, (r: E2EResult) => r.requestsPerToken, (r: E2EResult) => r.cpuMsPerToken.server].flatMap((f) => {
      const x = median(a.map(f));
      const y = median(b.map(f));
      return [fmt(x, 2), fmt(y, 2), `${fmt(x / y, 2)} x`];
    });
    out.push(`| ${pilots} | ${cells.join(' | ')} |`);
  }
  return out.join('\n');
}
