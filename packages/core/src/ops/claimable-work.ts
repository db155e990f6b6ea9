/**
 * How much work a new pilot could claim right now: tokens in todo, plus locked tokens whose lease has
 * expired (their pilot died; workers reclaim them by default). The launchers' autopilot (`--only-if-todo`)
 * submits nothing when both are 0. Todo is PiCaS' count (status.ts), so it matches `picas status`.
 */
import type { Couch } from '../couch/connection.js';
import { LEASE_VIEW } from './claim-candidates.js';
import { stateCounts } from './status.js';

export interface ClaimableWork {
  todo: number;
  /** locked tokens with an expired lease (at most 100 are counted: enough to say "there is work") */
  expiredLeases: number;
}

export interface ClaimableWorkOptions {
  /** count expired leases too (default true); false when the pilots will not reclaim them (--no-reclaim-expired) */
  includeExpiredLeases?: boolean;
  signal?: AbortSignal;
}

const EXPIRED_LEASE_LIMIT = 100;

export async function claimableWork(couch: Couch, options: ClaimableWorkOptions = {}): Promise<ClaimableWork> {
  const { signal } = options;
  const { todo } = await stateCounts(couch, { signal });
  if (todo > 0 || options.includeExpiredLeases === false) return { todo, expiredLeases: 0 };
  const res = await couch.http.request<{ rows?: unknown[] }>({
    path: couch.http.dbPath(`/${LEASE_VIEW}`),
    query: { endkey: Math.floor(Date.now() / 1000), limit: EXPIRED_LEASE_LIMIT },
    signal,
  });
  // a database made by Python PiCaS has no _design/picas (and no leases): only todo counts there
  if (res.status === 404) return { todo, expiredLeases: 0 };
  if (res.status < 200 || res.status >= 300) throw couch.http.errorFor(res, 'looking for expired leases');
  return { todo, expiredLeases: res.body.rows?.length ?? 0 };
}

/** True when a pilot started now would find something to claim. */
export function hasClaimableWork(work: ClaimableWork): boolean {
  return work.todo > 0 || work.expiredLeases > 0;
}
