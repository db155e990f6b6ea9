/**
 * How many tokens are in each state, from PiCaS' `_design/Monitor/_view/overview_total` (group=true),
 * so the numbers match what Python PiCaS and `picas status` show. Used by the launchers' autopilot
 * (`--only-if-todo`) and by `picas slurm status`.
 */
import type { Couch, TokenState } from '@picas/core';
import { stateCounts } from '@picas/core/ops/status';

export type TokenCounts = Record<TokenState, number>;

export function tokenCounts(couch: Couch, signal?: AbortSignal): Promise<TokenCounts> {
  return stateCounts(couch, { signal });
}

/**
 * The autopilot's test before submitting pilots: is there anything a new pilot could claim? Tokens in
 * todo, and locked tokens whose lease has expired (their pilot died; workers reclaim them by default).
 */
export async function pendingWork(
  couch: Couch,
  options: { includeExpiredLeases?: boolean; signal?: AbortSignal } = {},
): Promise<{ todo: number; expiredLeases: number }> {
  const signal = options.signal;
  const { todo } = await tokenCounts(couch, signal);
  if (todo > 0 || options.includeExpiredLeases === false) return { todo, expiredLeases: 0 };
  const res = await couch.http.request<{ rows?: unknown[] }>({
    path: couch.http.dbPath('/_design/picas/_view/locked_by_lease'),
    query: { endkey: Math.floor(Date.now() / 1000), limit: 100 },
    signal,
  });
  // a database made by Python PiCaS has no _design/picas (and no leases): only todo counts there
  if (res.status === 404) return { todo, expiredLeases: 0 };
  if (res.status < 200 || res.status >= 300) throw couch.http.errorFor(res, 'looking for expired leases');
  return { todo, expiredLeases: res.body.rows?.length ?? 0 };
}

export function formatTokenCounts(counts: TokenCounts): string {
  return `todo ${counts.todo}, locked ${counts.locked}, done ${counts.done}, error ${counts.error}`;
}
