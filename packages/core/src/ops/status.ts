/**
 * Token counts per state, from exactly two small queries: PiCaS' `Monitor/overview_total` (group=true)
 * and our `picas/conflicts` reduce. A database made by Python PiCaS (no `_design/picas`) still works:
 * the conflicts count is then unknown (null).
 */
import type { Couch } from '../couch/connection.js';
import type { TokenState } from '../token.js';
import { missingView } from './list-tokens.js';
import { dependencyCounts } from './dependencies.js';

export interface TokenCounts extends Record<TokenState, number> {
  /** picas' own states of tokens that wait for others (docs/dag.md); 0 without _design/picas_deps */
  waiting: number;
  blocked: number;
  total: number;
  /** tokens with conflicting revisions; null when the database has no `_design/picas` (run picas init) */
  conflicts: number | null;
}

/** Tokens per state from PiCaS' `Monitor/overview_total` (group=true): the numbers Python PiCaS shows too. */
export async function stateCounts(couch: Couch, options: { signal?: AbortSignal } = {}): Promise<Record<TokenState, number>> {
  const { http } = couch;
  const overview = await http.request<{ rows?: Array<{ key: unknown; value: unknown }> }>({
    path: http.dbPath('/_design/Monitor/_view/overview_total'),
    query: { group: true },
    signal: options.signal,
  });
  if (overview.status === 404) throw missingView(couch, overview.body, 'Monitor', 'overview_total');
  if (overview.status >= 300) throw http.errorFor(overview, 'reading the Monitor/overview_total view');
  const counts: Record<TokenState, number> = { todo: 0, locked: 0, done: 0, error: 0 };
  for (const row of overview.body?.rows ?? []) {
    const key = row.key as TokenState;
    if (key === 'todo' || key === 'locked' || key === 'done' || key === 'error') counts[key] = Number(row.value) || 0;
  }
  return counts;
}

export async function tokenStatus(couch: Couch, options: { signal?: AbortSignal } = {}): Promise<TokenCounts> {
  const { http } = couch;
  // read alongside the other queries, so that it adds no latency
  const depsRead = dependencyCounts(http, options.signal);
  depsRead.catch(() => undefined);
  const states = await stateCounts(couch, options);
  const deps = await depsRead;
  const counts: TokenCounts = { ...states, ...deps, total: states.todo + states.locked + states.done + states.error + deps.waiting + deps.blocked, conflicts: null };

  const conflicts = await http.request<{ rows?: Array<{ value: unknown }> }>({
    path: http.dbPath('/_design/picas/_view/conflicts'),
    signal: options.signal,
  });
  if (conflicts.status === 404) {
    // no _design/picas (a database made by Python PiCaS): the count is unknown
    return counts;
  }
  if (conflicts.status >= 300) throw http.errorFor(conflicts, 'reading the picas/conflicts view');
  counts.conflicts = Number(conflicts.body?.rows?.[0]?.value ?? 0) || 0;
  return counts;
}
