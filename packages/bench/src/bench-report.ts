/** The bench's report: markdown tables per server, and results.{json,md} written after each server. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Args } from './bench-args.js';
import { dagMarkdown } from './dag-bench.js';
import type { E2EResult } from './end-to-end.js';
import { manyClaimersMarkdown } from './many-claimers.js';
import { fmt } from './number-format.js';
import { renderWorkerStartup } from './worker-startup.js';

export function writeResults(args: Args, runs: any[]): void {
  mkdirSync(args.out, { recursive: true });
  const suffix = args.quick ? '-quick' : '';
  writeFileSync(join(args.out, `results${suffix}.json`), JSON.stringify({ date: new Date().toISOString(), quick: args.quick, runs }, null, 2) + '\n');
  writeFileSync(join(args.out, `results${suffix}.md`), renderAll(runs, args.quick) + '\n');
}

export function renderAll(runs: any[], quick: boolean): string {
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
