/**
 * The DAG row of `npm run bench` (docs/dag.md): the same tokens run twice with the same pilots, once as
 * independent tokens and once as chains (each token depends on the previous one of its chain). Measures the
 * throughput ratio (target >= 0.7), double executions (from the commands' own log), and tokens that started
 * before a dependency had finished (from the `started` / `finished` times the pilots recorded).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { fmt } from './number-format.js';

export interface DagBenchDeps {
  /** a CouchDB request on the bench server: path below the server root */
  call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** creates a fresh database with every design document */
  createDb(db: string): Promise<void>;
  /** the picas environment for a database */
  env(db: string): Record<string, string>;
  cliBin: string;
  worker: { file: string; args(extra: string[]): string[] };
  work: string;
}

export interface DagRun {
  name: string;
  tokens: number;
  seconds: number;
  tokensPerSec: number;
  doubleExecutions: number;
  notDone: number;
  /** tokens whose command started before one of their dependencies had finished */
  ranBeforeDependencies: number;
}

export interface DagBenchResult {
  chains: number;
  length: number;
  pilots: number;
  independent: DagRun;
  chained: DagRun;
  ratio: number;
}

async function runOnce(deps: DagBenchDeps, name: string, chains: number, length: number, pilots: number, chained: boolean): Promise<DagRun> {
  const db = `bench_dag_${chained ? 'chains' : 'independent'}`;
  await deps.createDb(db);
  // build the views before the clock starts, as `picas init` leaves them
  for (const view of ['picas_claim/_view/todo_by_priority', 'Monitor/_view/overview_total?group=true', 'picas_deps/_view/waiting?limit=1', 'picas_deps/_view/nodes?limit=1']) {
    await deps.call('GET', `/${db}/_design/${view}${view.includes('?') ? '' : '?limit=1'}`);
  }
  const execLog = join(deps.work, `${db}.log`);
  writeFileSync(execLog, '');
  const lines: string[] = [];
  for (let c = 0; c < chains; c++) {
    for (let s = 0; s < length; s++) {
      const id = `c${c}_s${s}`;
      const token: Record<string, unknown> = { id, input: `echo "$PICAS_TOKEN_ID" >> ${execLog}` };
      if (chained && s > 0) token.depends_on = [`c${c}_s${s - 1}`];
      lines.push(JSON.stringify(token));
    }
  }
  const file = join(deps.work, `${db}.jsonl`);
  writeFileSync(file, lines.join('\n') + '\n');
  const env = deps.env(db);
  const started = performance.now();
  const push = await execa(process.execPath, [deps.cliBin, 'push', file], { env, reject: false });
  if (push.exitCode !== 0) throw new Error(`push failed: ${push.stderr}`);
  const runs = await Promise.all(Array.from({ length: pilots }, () => execa(deps.worker.file, deps.worker.args([]), { env, reject: false, timeout: 900_000 })));
  const seconds = (performance.now() - started) / 1000;
  const failed = runs.filter((r) => r.exitCode !== 0);
  if (failed.length) process.stderr.write(`  ${failed.length} worker(s) exited non-zero: ${failed[0]!.stderr.split('\n').slice(-3).join(' | ')}\n`);
  const seen = new Map<string, number>();
  for (const l of readFileSync(execLog, 'utf8').split('\n').filter(Boolean)) seen.set(l, (seen.get(l) ?? 0) + 1);
  const all = await deps.call('GET', `/${db}/_all_docs?include_docs=true`);
  const docs = new Map<string, any>();
  for (const row of all.body.rows ?? []) if (row.doc?.type === 'token') docs.set(row.id, row.doc);
  let notDone = 0;
  let early = 0;
  for (const doc of docs.values()) {
    if (!(doc.lock > 0 && doc.done > 0 && Number(doc.exit_code) === 0)) notDone++;
    for (const dep of doc.depends_on ?? []) {
      const parent = docs.get(dep);
      if (!parent || !(typeof doc.started === 'number' && typeof parent.finished === 'number' && doc.started >= parent.finished)) early++;
    }
  }
  await deps.call('DELETE', `/${db}`);
  const tokens = chains * length;
  return {
    name,
    tokens,
    seconds,
    tokensPerSec: tokens / seconds,
    doubleExecutions: [...seen.values()].reduce((a, n) => a + Math.max(0, n - 1), 0),
    notDone: notDone + (tokens - docs.size),
    ranBeforeDependencies: early,
  };
}

export async function dagBench(deps: DagBenchDeps, options: { chains: number; length: number; pilots: number }): Promise<DagBenchResult> {
  const { chains, length, pilots } = options;
  const independent = await runOnce(deps, `${chains * length} independent tokens, ${pilots} workers`, chains, length, pilots, false);
  const chained = await runOnce(deps, `${chains} chains of ${length}, ${pilots} workers`, chains, length, pilots, true);
  return { chains, length, pilots, independent, chained, ratio: chained.tokensPerSec / independent.tokensPerSec };
}


/** The bench targets of the DAG row. */
export function dagTargets(r: DagBenchResult): Array<{ target: string; value: string; ok: boolean; hard: boolean }> {
  return [
    { target: `DAG: ${r.chains} chains of ${r.length} >= 0.7 x the same tokens independent`, value: `${fmt(r.ratio, 2)} x`, ok: r.ratio >= 0.7, hard: false },
    { target: 'DAG: zero double executions, zero tokens not done', value: `${r.chained.doubleExecutions}/${r.chained.notDone}`, ok: r.chained.doubleExecutions === 0 && r.chained.notDone === 0, hard: true },
    { target: 'DAG: zero tokens started before a dependency finished', value: String(r.chained.ranBeforeDependencies), ok: r.chained.ranBeforeDependencies === 0, hard: true },
  ];
}

export function dagMarkdown(r: DagBenchResult): string {
  const row = (d: DagRun) => `| ${d.name} | ${d.tokens} | ${fmt(d.tokensPerSec)} | ${fmt(d.seconds)} | ${d.doubleExecutions} | ${d.notDone} | ${d.ranBeforeDependencies} |`;
  return `| dependencies (push → last done) | tokens | tokens/s | seconds | double runs | not done | started before a dependency finished |
|---|---|---|---|---|---|---|
${row(r.independent)}
${row(r.chained)}

Chains run at ${fmt(r.ratio, 2)} x the throughput of the same tokens without dependencies.
`;
}
