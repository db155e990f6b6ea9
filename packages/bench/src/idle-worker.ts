/** Step 4a: the RSS of one idle pilot. */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { picasEnv, type Http } from './bench-http.js';
import { createDb } from './bench-db.js';
import { workerCommand, workerStart } from './bench-paths.js';
import type { Server } from './bench-server.js';

/** RSS of one idle worker in --endless mode on an empty pool (sampled from /proc after it settles). */
export async function idleWorkerRss(server: Server, http: Http): Promise<number> {
  const db = 'bench_idle';
  await createDb(http, db, true);
  const child = execa(workerCommand.file, workerStart(['--endless']), { env: picasEnv(server, db), reject: false });
  await new Promise((r) => setTimeout(r, 4000));
  let rssMb = NaN;
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    if (m) rssMb = Number(m[1]) / 1024;
  } catch {
    // not on Linux
  }
  child.kill('SIGTERM');
  await child;
  await http.call('DELETE', `/${db}`);
  return rssMb;
}
