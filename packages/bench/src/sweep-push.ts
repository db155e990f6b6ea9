/**
 * `npm run bench -- --sweep`: pushing a sweep of N points (`picas push --template ... --param a=1:1000:1
 * --param b=1:K:1`, 1,000,000 by default) against pushing a .txt file of the same tokens (the same inputs, in
 * the same order), each into a fresh database, timed as a whole command with its peak RSS; in the order file,
 * sweep, sweep, file (rate over both pushes, the higher peak RSS). Targets: the sweep
 * pushes at >= 0.8x the file's rate, in <= 1.2x its peak RSS (docs/sweeps.md).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Http } from './bench-http.js';
import { createDb } from './bench-db.js';
import { timedPush } from './push-rate.js';
import type { Server } from './bench-server.js';

export interface SweepPushResult {
  points: number;
  file: { rate: number; seconds: number; peakRssMb: number };
  sweep: { rate: number; seconds: number; peakRssMb: number };
}

/** Points of the first parameter; the second has points / A_POINTS. */
const A_POINTS = 1000;

const TEMPLATE = 'sim --a {a} --b {b}';
const inputOf = (a: number, b: number) => `sim --a ${a} --b ${b}`;

export async function sweepPush(server: Server, http: Http, work: string, options: { points: number; log?: (line: string) => void }): Promise<SweepPushResult> {
  const aPoints = Math.min(A_POINTS, options.points);
  const bPoints = Math.max(1, Math.round(options.points / aPoints));
  const points = aPoints * bPoints;
  const file = join(work, `sweep-${points}.txt`);
  // the sweep's order: the first parameter outermost; written in pieces, not as one string
  writeFileSync(file, '');
  let lines: string[] = [];
  for (let a = 1; a <= aPoints; a++) {
    for (let b = 1; b <= bPoints; b++) lines.push(inputOf(a, b));
    if (lines.length >= 100_000 || a === aPoints) {
      appendFileSync(file, lines.join('\n') + '\n');
      lines = [];
    }
  }
  const push = { file: [file], sweep: ['--name', 'bench', '--template', TEMPLATE, '--param', `a=1:${aPoints}:1`, '--param', `b=1:${bPoints}:1`] };
  const totals = { file: { seconds: 0, peakRssMb: 0 }, sweep: { seconds: 0, peakRssMb: 0 } };
  // file, sweep, sweep, file: a load that drifts during the run (a shared machine) weighs on both alike
  for (const [round, kind] of (['file', 'sweep', 'sweep', 'file'] as const).entries()) {
    const db = `bench_sweep_${kind}_${round}_${Date.now()}`;
    await createDb(http, db, false);
    try {
      options.log?.(`pushing ${kind === 'file' ? 'a file of' : 'a sweep of'} ${points} tokens on ${server.label} (${round + 1} of 4)`);
      const run = await timedPush(server, db, push[kind]);
      totals[kind].seconds += run.seconds;
      totals[kind].peakRssMb = Math.max(totals[kind].peakRssMb, run.peakRssMb);
    } finally {
      await http.call('DELETE', `/${db}`).catch(() => undefined);
    }
  }
  const result = (t: { seconds: number; peakRssMb: number }) => ({ rate: (2 * points) / t.seconds, seconds: t.seconds / 2, peakRssMb: t.peakRssMb });
  return { points, file: result(totals.file), sweep: result(totals.sweep) };
}

export function sweepPushMarkdown(r: SweepPushResult, label: string): string {
  const rateRatio = r.sweep.rate / r.file.rate;
  const rssRatio = r.sweep.peakRssMb / r.file.peakRssMb;
  const row = (name: string, m: SweepPushResult['file']) => `| ${name} | ${Math.round(m.rate).toLocaleString('en-US')} | ${m.seconds.toFixed(1)} | ${m.peakRssMb.toFixed(0)} |`;
  return [
    `## sweep push vs file push, ${r.points.toLocaleString('en-US')} tokens, ${label}`,
    '',
    '| push | tokens/s | seconds (mean of 2) | peak RSS MB |',
    '|---|---|---|---|',
    row('file (.txt)', r.file),
    row('sweep (--template --param)', r.sweep),
    '',
    '| target | value | met |',
    '|---|---|---|',
    `| sweep rate >= 0.8x file rate | ${rateRatio.toFixed(2)}x | ${rateRatio >= 0.8 ? 'yes' : 'no'} |`,
    `| sweep peak RSS <= 1.2x file's | ${rssRatio.toFixed(2)}x | ${rssRatio <= 1.2 ? 'yes' : 'no'} |`,
    '',
  ].join('\n');
}
