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
 *
 * measure.ts runs the steps in order on one server; each step has its own module (server-ceiling.ts,
 * push-rate.ts, end-to-end.ts, idle-worker.ts, status-latency.ts, worker-startup.ts, ...), bench-report.ts
 * renders the tables. `--scale` runs scale.ts instead; `--mixed`, `--sweep` (sweep-push.ts: a sweep push
 * against a file push of the same tokens) and `--autoscale` (autoscale-vs-fixed.ts: picas autoscale vs a fixed
 * launch of the same cap, on local pilots) run one step alone.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type Args } from './bench-args.js';
import { cliBin, workerCommand, workerStart } from './bench-paths.js';
import { renderAll, writeResults } from './bench-report.js';
import { realCouchDB, startServer, type Server } from './bench-server.js';
import { measure } from './measure.js';
import { Http } from './bench-http.js';
import { otherPilot, workerVs, workerVsMarkdown } from './worker-vs.js';
import { mixedPool, mixedPoolTargets } from './mixed-pool.js';
import { sweepPush, sweepPushMarkdown } from './sweep-push.js';
import { autoscaleVsFixed, autoscaleVsFixedMarkdown } from './autoscale-vs-fixed.js';
import { measureScale, scaleMarkdown, type ScaleResult } from './scale.js';

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.scale) return scaleMain(args);
  if (args.mixed) return mixedMain(args);
  if (args.sweep) return sweepMain(args);
  if (args.autoscale) return autoscaleMain(args);
  if (args.vsWorker) return vsMain(args);
  const work = mkdtempSync(join(tmpdir(), 'picas-bench-'));
  const runs: any[] = [];
  try {
    await eachServer(args, async (server) => {
      runs.push(await measure(server, args, work));
      // written after each server, so that a failure on the next one keeps what was measured
      writeResults(args, runs);
    });
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

/** Runs `step` on each chosen server in turn (the embedded one, then a real CouchDB), stopping each after it. */
async function eachServer(args: Args, step: (server: Server) => Promise<void>): Promise<void> {
  for (const kind of ['embedded', 'couchdb'] as const) {
    if (!args.servers.has(kind)) continue;
    const server = kind === 'embedded' ? await startServer() : await realCouchDB(args);
    if (!server) continue;
    try {
      await step(server);
    } finally {
      await server.stop();
    }
  }
}

/** `--scale` (scale.ts), on each chosen server, written to results-scale.{json,md}. */
async function scaleMain(args: Args) {
  const poolTokens = args.scaleTokens ?? 1_000_000;
  const results: ScaleResult[] = [];
  await eachServer(args, async (server) => {
    results.push(await measureScale(server, { poolTokens, drain: args.scaleDrain ?? 1000, cliBin, worker: { file: workerCommand.file, args: workerStart }, log: (l) => process.stderr.write(l + '\n') }));
  });
  const md = results.map(scaleMarkdown).join('\n\n');
  process.stdout.write(md + '\n');
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'results-scale.json'), JSON.stringify({ date: new Date().toISOString(), results }, null, 2) + '\n');
  writeFileSync(join(args.out, 'results-scale.md'), md + '\n');
}

/** One step alone on each chosen server, with a client for it and a work folder removed afterwards. */
async function eachServerAlone(args: Args, step: (server: Server, http: Http, work: string) => Promise<void>): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'picas-bench-'));
  try {
    await eachServer(args, async (server) => {
      const http = new Http(server.url, server.username, server.password);
      try {
        await step(server, http, work);
      } finally {
        await http.agent.close();
      }
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `--vs-worker` (worker-vs.ts), on each chosen server, written to results-vs-worker.md. */
async function vsMain(args: Args) {
  const options = { other: args.vsWorker!, rounds: args.vsRounds, pilots: args.vsPilots, tokens: args.vsTokens ?? (args.quick ? 200 : 2000) };
  const tables: string[] = [];
  await eachServerAlone(args, async (server, http, work) => {
    process.stderr.write(`this picas-worker vs ${options.other} on ${server.label}\n`);
    tables.push(workerVsMarkdown(await workerVs(server, http, work, options, (l) => process.stderr.write(l + '\n')), options, server.label));
  });
  const md = tables.join('\n\n');
  process.stdout.write(md + '\n');
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'results-vs-worker.md'), md + '\n');
}

/** `--mixed` (mixed-pool.ts) alone, on each chosen server: its targets as a table. */
async function mixedMain(args: Args) {
  const out: string[] = [];
  await eachServerAlone(args, async (server, http, work) => {
    // --vs-worker OTHER: the same step with that checkout's picas-worker (its numbers before a change)
    const pilot = args.vsWorker ? otherPilot(args.vsWorker) : undefined;
    const r = await mixedPool(server, http, work, { tokens: args.vsTokens ?? (args.quick ? 100 : 1000), sleepS: 0.2, pilot });
    out.push(`## mixed shapes, ${server.label}${args.vsWorker ? `, picas-worker of ${args.vsWorker}` : ''}`, '', '| target | value | met |', '|---|---|---|', ...mixedPoolTargets(r).map((t) => `| ${t.target} | ${t.value} | ${t.ok ? 'yes' : 'no'} |`), '');
  });
  process.stdout.write(out.join('\n') + '\n');
}

/** `--sweep` (sweep-push.ts) alone, on each chosen server, written to results-sweep.md. */
async function sweepMain(args: Args) {
  const tables: string[] = [];
  await eachServerAlone(args, async (server, http, work) => {
    const r = await sweepPush(server, http, work, { points: args.vsTokens ?? (args.quick ? 100_000 : 1_000_000), log: (l) => process.stderr.write(l + '\n') });
    tables.push(sweepPushMarkdown(r, server.label));
  });
  const md = tables.join('\n');
  process.stdout.write(md + '\n');
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'results-sweep.md'), md + '\n');
}

/** `--autoscale` (autoscale-vs-fixed.ts) alone, on each chosen server, written to results-autoscale.md. */

/** `--autoscale` (autoscale-vs-fixed.ts) alone, on each chosen server, written to results-autoscale.md. */
async function autoscaleMain(args: Args) {
  const options = { tokens: args.vsTokens ?? (args.quick ? 40 : 200), sleepS: 2, cap: args.cap, walltime: '00:10:00' };
  const tables: string[] = [];
  await eachServerAlone(args, async (server, http, work) => {
    process.stderr.write(`autoscale vs a fixed launch of ${options.cap} pilots on ${server.label}\n`);
    tables.push(autoscaleVsFixedMarkdown(await autoscaleVsFixed(server, http, work, options), options, server.label));
  });
  const md = tables.join('\n\n');
  process.stdout.write(md + '\n');
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'results-autoscale.md'), md + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
