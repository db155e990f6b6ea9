/** Step 4b: `picas status` on a large database, right after writing it and once its views are built. */
import { execa } from 'execa';
import { newToken } from '@picas/core';
import { picasEnv, type Http } from './bench-http.js';
import { createDb } from './bench-db.js';
import { cliBin } from './bench-paths.js';
import type { Server } from './bench-server.js';
import { percentile } from './percentile.js';

/** 4. `picas status` latency on a database of `count` tokens, after the views are built (median of 5). */
export async function statusLatency(server: Server, http: Http, count: number): Promise<{ medianMs: number; viewBuildSeconds: number }> {
  const db = 'bench_status';
  await createDb(http, db, true);
  for (let i = 0; i < count; i += 5000) {
    const docs = Array.from({ length: Math.min(5000, count - i) }, (_, j) => newToken(`token_${i + j}`, `echo ${i + j}`));
    await http.call('POST', `/${db}/_bulk_docs`, { docs });
  }
  // the first `picas status` right after the tokens are written: it waits for (and reports) the index build
  const t0 = performance.now();
  const first = await execa(process.execPath, [cliBin, 'status', '--json'], { env: picasEnv(server, db), reject: false });
  if (first.exitCode !== 0) throw new Error(`picas status right after writing ${count} tokens failed: ${first.stderr}`);
  const viewBuildSeconds = (performance.now() - t0) / 1000;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const r = await execa(process.execPath, [cliBin, 'status', '--json'], { env: picasEnv(server, db), reject: false });
    if (r.exitCode !== 0) throw new Error(`picas status failed: ${r.stderr}`);
    times.push(performance.now() - s);
  }
  await http.call('DELETE', `/${db}`);
  return { medianMs: percentile(times, 50), viewBuildSeconds };
}
