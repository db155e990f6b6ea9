/** The whole suite on one server: steps 1 to 7, their targets, and the results the report renders. */
import { availableParallelism } from 'node:os';
import { newToken } from '@picas/core';
import { Http, picasEnv } from './bench-http.js';
import { createDb, stateCounts } from './bench-db.js';
import type { Args } from './bench-args.js';
import { cliBin, workerCommand, workerStart } from './bench-paths.js';
import type { Server } from './bench-server.js';
import { dagBench, dagTargets } from './dag-bench.js';
import { dashboardBench } from './dashboard-bench.js';
import { endToEnd, picasBaseline, type E2EResult } from './end-to-end.js';
import { idleWorkerRss } from './idle-worker.js';
import { manyClaimers, manyClaimersTargets } from './many-claimers.js';
import { mixedPool, mixedPoolTargets } from './mixed-pool.js';
import { fmt } from './number-format.js';
import { comparePilotRecords } from './pilot-records.js';
import { pushRate } from './push-rate.js';
import { revisionFloor } from './revision-floor.js';
import { serverCpuTargets } from './server-cpu-targets.js';
import { bulkCeiling, putCeiling } from './server-ceiling.js';
import { statusLatency } from './status-latency.js';
import { measureWorkerStartup } from './worker-startup.js';

/** The whole suite on one server. */
export async function measure(server: Server, args: Args, work: string) {
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
    mixedPool: q ? 100 : 1000,
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
    const mixed = await mixedPool(server, http, work, { tokens: sizes.mixedPool, sleepS: 0.2 });
    process.stderr.write(`   mixed shapes on a 4-cpu pilot: cpus busy ${fmt(mixed.mixed.cpusBusy, 2)} (uniform ${fmt(mixed.uniform.cpusBusy, 2)}), server CPU ${fmt(mixed.mixed.serverCpuMsPerToken, 2)} vs ${fmt(mixed.uniform.serverCpuMsPerToken, 2)} ms/token\n`);
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
      ...mixedPoolTargets(mixed),
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
      mixedPool: mixed,
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
