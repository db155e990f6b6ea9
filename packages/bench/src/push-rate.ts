/** Step 2: `picas push` of a .txt file, timed as a whole command, with its peak RSS. */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { picasEnv, type Http } from './bench-http.js';
import { createDb } from './bench-db.js';
import { cliBin } from './bench-paths.js';
import type { Server } from './bench-server.js';

/** Line i of the push file (step 2), also the input of the i-th _bulk_docs document (step 1b). */
export const pushFileLine = (i: number) => `echo token ${i}`;

/** 2. `picas push` of a .txt file with `count` lines, wall time of the whole command. */
export async function pushRate(server: Server, http: Http, count: number, work: string, db: string): Promise<{ rate: number; seconds: number; peakRssMb: number }> {
  await createDb(http, db, false);
  const file = join(work, `push-${count}.txt`);
  // written in pieces: a million lines as one string would weigh on the bench, not on the push
  writeFileSync(file, '');
  for (let i = 0; i < count; i += 100_000) appendFileSync(file, Array.from({ length: Math.min(100_000, count - i) }, (_, j) => pushFileLine(i + j) + '\n').join(''));
  const timed = await timedPush(server, db, [file]);
  return { rate: count / timed.seconds, ...timed };
}

/** `picas push ARGS` into `db`, timed as a whole command, with its peak RSS (VmHWM, sampled until it exits). */
export async function timedPush(server: Server, db: string, args: readonly string[], cwd?: string): Promise<{ seconds: number; peakRssMb: number }> {
  const started = performance.now();
  const child = execa(process.execPath, [cliBin, 'push', ...args], { env: picasEnv(server, db), reject: false, cwd });
  let peakRssMb = NaN;
  const sample = () => {
    const m = /VmHWM:\s+(\d+) kB/.exec((() => { try { return readFileSync(`/proc/${child.pid}/status`, 'utf8'); } catch { return ''; } })());
    if (m) peakRssMb = Number(m[1]) / 1024;
  };
  const sampler = setInterval(sample, 100);
  try {
    const r = await child;
    if (r.exitCode !== 0) throw new Error(`picas push failed: ${r.stderr}`);
  } finally {
    clearInterval(sampler);
  }
  return { seconds: (performance.now() - started) / 1000, peakRssMb };
}
