/**
 * `--autoscale`: the same pool drained twice on local pilots, by `picas autoscale --backend local
 * --max-pilots CAP --until-empty` and by a fixed, hand-sized `picas launch local -n CAP`: the time to
 * drain, the pilots started, and the pilot-seconds spent idle in each (a pilot's life from its record,
 * minus the run time of the tokens it ran), side by side.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { picasEnv, type Http } from './bench-http.js';
import { createPoolDb, stateCounts } from './bench-db.js';
import { cliBin } from './bench-paths.js';
import type { Server } from './bench-server.js';

export interface DrainRun {
  how: string;
  seconds: number;
  pilots: number;
  /** pilot-seconds alive without a token running (per slot) */
  idlePilotSeconds: number;
  leftTodo: number;
}

export interface AutoscaleVsFixedOptions {
  tokens: number;
  sleepS: number;
  cap: number;
  walltime: string;
}

async function drain(server: Server, http: Http, work: string, how: 'autoscale' | 'fixed', o: AutoscaleVsFixedOptions): Promise<DrainRun> {
  const db = `bench_autoscale_${how}`;
  await createPoolDb(http, db);
  const file = join(work, `${db}.jsonl`);
  writeFileSync(file, Array.from({ length: o.tokens }, (_, i) => JSON.stringify({ input: `sleep ${o.sleepS} # ${i}` })).join('\n') + '\n');
  const env = picasEnv(server, db);
  const push = await execa(process.execPath, [cliBin, 'push', file], { env, reject: false });
  if (push.exitCode !== 0) throw new Error(`push failed: ${push.stderr}`);
  const started = Date.now() / 1000;
  const args =
    how === 'autoscale'
      ? ['autoscale', '--backend', 'local', '--max-pilots', String(o.cap), '--walltime', o.walltime, '--interval', '2s', '--until-empty']
      : ['launch', 'local', '-n', String(o.cap)];
  const run = await execa(process.execPath, [cliBin, ...args], { env, reject: false, cwd: work, timeout: 1_800_000 });
  if (run.exitCode !== 0) throw new Error(`${how} exited ${run.exitCode}: ${run.stderr.split('\n').slice(-3).join(' | ')}`);
  const seconds = Date.now() / 1000 - started;
  const { pilots, idle } = await idlePilotSeconds(http, db);
  const counts = await stateCounts(http, db);
  await http.call('DELETE', `/${db}`);
  return { how: how === 'autoscale' ? `picas autoscale --max-pilots ${o.cap}` : `picas launch local -n ${o.cap}`, seconds, pilots, idlePilotSeconds: idle, leftTodo: (counts.todo ?? 0) + (counts.locked ?? 0) };
}

/** Idle pilot-seconds: each pilot's life (its record) times its slots, minus the run time of its tokens. */
async function idlePilotSeconds(http: Http, db: string): Promise<{ pilots: number; idle: number }> {
  const records = await http.call('GET', `/${db}/_all_docs?include_docs=true&startkey=${encodeURIComponent('"pilot:"')}&endkey=${encodeURIComponent('"pilot:\ufff0"')}`);
  const tokens = await http.call('GET', `/${db}/_design/Monitor/_view/done?include_docs=true`);
  const busy = new Map<string, number>();
  for (const row of tokens.body.rows ?? []) busy.set(row.doc.worker_id, (busy.get(row.doc.worker_id) ?? 0) + (Number(row.doc.run_seconds) || 0));
  let idle = 0;
  let pilots = 0;
  for (const row of records.body.rows ?? []) {
    const p = row.doc;
    if (!p || p.type !== 'pilot') continue;
    pilots++;
    const life = (Number(p.ended ?? p.heartbeat) - Number(p.started)) * (Number(p.slots) || 1);
    idle += Math.max(0, life - (busy.get(p.pilot_id) ?? 0));
  }
  return { pilots, idle };
}

export async function autoscaleVsFixed(server: Server, http: Http, work: string, o: AutoscaleVsFixedOptions): Promise<DrainRun[]> {
  return [await drain(server, http, work, 'fixed', o), await drain(server, http, work, 'autoscale', o)];
}

export function autoscaleVsFixedMarkdown(runs: readonly DrainRun[], o: AutoscaleVsFixedOptions, label: string): string {
  return [
    `## ${o.tokens} tokens of ${o.sleepS} s on local pilots, ${label}: autoscale vs a fixed launch of the same cap`,
    '',
    '| run | time to drain (s) | pilots started | idle pilot-seconds | left todo or locked |',
    '|---|---|---|---|---|',
    ...runs.map((r) => `| ${r.how} | ${r.seconds.toFixed(1)} | ${r.pilots} | ${r.idlePilotSeconds.toFixed(1)} | ${r.leftTodo} |`),
  ].join('\n');
}
