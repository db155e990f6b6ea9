/**
 * One process of light pilots for the many-pilots bench (many-claimers.ts): PICAS_BENCH_PILOTS logical pilots,
 * each a real Claimer with the real completion write (ops/complete), a no-op command, sharing one keep-alive
 * client. It drains the pool once and prints its tallies as one JSON line.
 */
import { hostname } from 'node:os';
import { openCouch, sleep } from '@picas/core';
import { Claimer } from '@picas/core/ops/claim';
import { completeToken } from '@picas/core/ops/complete';
import { settleUnconfirmedClaim } from '@picas/core/ops/settle-claim';

const env = process.env;
const pilots = Number(env.PICAS_BENCH_PILOTS ?? 16);
const proc = env.PICAS_BENCH_PROC ?? '0';
const couch = openCouch({ url: env.PICAS_URL!, db: env.PICAS_DB!, username: env.PICAS_USERNAME || undefined, password: env.PICAS_PASSWORD || undefined, embedded: false }, { connections: Math.min(64, pilots) });
const latencies: number[] = [];
let done = 0;
let lost = 0;

async function pilot(i: number) {
  const claimer = new Claimer({ http: couch.http, workerId: `light-${proc}-${i}`, hostname: hostname(), leaseMs: 300_000, window: 32, reclaimExpired: false });
  for (let idle = 0; idle < 3; ) {
    const t0 = performance.now();
    const round = await claimer.claim({ max: 1 });
    // a claim that got no clear answer may have been applied: settle it as the pilot does (one read, single node)
    for (const c of claimer.takeUnconfirmed()) await settleUnconfirmedClaim(couch.http, c, { actor: `light-${proc}-${i}` }).catch(() => undefined);
    if (round.outcome === 'won') {
      latencies.push(performance.now() - t0);
      idle = 0;
      for (const { doc } of round.won) {
        const now = Date.now() / 1000;
        const r = await completeToken(couch.http, doc, { exitCode: 0, started: now, finished: now, hostname: 'bench' }, { claimId: doc.claim_id!, workerId: doc.worker_id!, maxScrub: 0 });
        if (r.written) done++;
        else lost++;
      }
    } else if (round.outcome === 'empty') {
      idle++;
      claimer.forget();
      await sleep(100 + Math.random() * 200);
    } else {
      await sleep(round.retryAfterMs ?? 20 + Math.random() * 200);
    }
  }
  return claimer.stats;
}

const stats = await Promise.all(Array.from({ length: pilots }, (_, i) => pilot(i)));
const sum = (k: keyof (typeof stats)[number]) => stats.reduce((n, s) => n + (s[k] as number), 0);
process.stdout.write(JSON.stringify({ done, lost, attempts: sum('attempts'), conflicts: sum('conflicts'), viewReads: sum('viewReads'), requests: couch.http.requests, latencies }) + '\n');
await couch.close();
