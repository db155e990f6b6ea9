/**
 * Token counts per state, from exactly two small queries: our `picas/state_counts` (group=true, a built-in
 * `_count` reduce, quick to build even for a million tokens) and our `picas/conflicts` reduce. A database
 * made by Python PiCaS (no `_design/picas`), or whose `_design/picas` predates `state_counts`, is counted
 * from PiCaS' `Monitor/overview_total` instead; the conflicts count is then unknown (null) without
 * `_design/picas`. While an index builds, the reads wait for it and report its progress (view-progress.ts).
 */
import type { Couch } from '../couch/connection.js';
import { TOKEN_STATES, type TokenState } from '../token.js';
import { missingView } from './list-tokens.js';
import { dependencyCounts } from './dependencies.js';
import { todoShapes, type ShapeTally } from './todo-shapes.js';
import { readViewWhileBuilding, type IndexBuild } from './view-progress.js';

export interface CountOptions {
  signal?: AbortSignal;
  /** called while a view index is being built (after a large push) */
  onProgress?: (builds: IndexBuild[]) => void;
}

export interface TokenCounts extends Record<TokenState, number> {
  /** picas' own states of tokens that wait for others (docs/dag.md); 0 without _design/picas_deps */
  waiting: number;
  blocked: number;
  total: number;
  /** tokens with conflicting revisions; null when the database has no `_design/picas` (run picas init) */
  conflicts: number | null;
  /** todo tokens per shape (todo-shapes.ts), only when some need more than one core */
  todo_by_shape?: ShapeTally[];
}

/** Tokens in each of PiCaS' four states (the numbers Python PiCaS shows too). */
export type StateCounts = Record<TokenState, number>;

type ReduceRows = { rows?: Array<{ key: unknown; value: unknown }> };

/**
 * Tokens per state (the numbers Python PiCaS shows too): from `picas/state_counts`, or from PiCaS'
 * `Monitor/overview_total` where our view is missing.
 */
export async function stateCounts(couch: Couch, options: CountOptions = {}): Promise<StateCounts> {
  const { http } = couch;
  let res = await readViewWhileBuilding<ReduceRows>(http, http.dbPath('/_design/picas/_view/state_counts'), { group: true }, options);
  let what = 'picas/state_counts';
  if (res.status === 404) {
    res = await readViewWhileBuilding<ReduceRows>(http, http.dbPath('/_design/Monitor/_view/overview_total'), { group: true }, options);
    what = 'Monitor/overview_total';
    if (res.status === 404) throw missingView(couch, res.body, 'Monitor', 'overview_total');
  }
  if (res.status >= 300) throw http.errorFor(res, `reading the ${what} view`);
  const counts = Object.fromEntries(TOKEN_STATES.map((state) => [state, 0])) as StateCounts;
  for (const row of res.body?.rows ?? []) {
    const key = row.key as TokenState;
    if (TOKEN_STATES.includes(key)) counts[key] = Number(row.value) || 0;
  }
  return counts;
}

export async function tokenStatus(couch: Couch, options: CountOptions = {}): Promise<TokenCounts> {
  const { http } = couch;
  // read alongside the other queries, so that it adds no latency
  const depsRead = dependencyCounts(http, options.signal);
  depsRead.catch(() => undefined);
  const states = await stateCounts(couch, options);
  const deps = await depsRead;
  const counts: TokenCounts = { ...states, ...deps, total: TOKEN_STATES.reduce((a, state) => a + states[state], 0) + deps.waiting + deps.blocked, conflicts: null };
  const shapes = states.todo > 0 ? await todoShapes(http, states.todo, options.signal) : [];
  if (shapes.length > 0) counts.todo_by_shape = shapes;

  const conflicts = await readViewWhileBuilding<{ rows?: Array<{ value: unknown }> }>(http, http.dbPath('/_design/picas/_view/conflicts'), {}, options);
  if (conflicts.status === 404) {
    // no _design/picas (a database made by Python PiCaS): the count is unknown
    return counts;
  }
  if (conflicts.status >= 300) throw http.errorFor(conflicts, 'reading the picas/conflicts view');
  counts.conflicts = Number(conflicts.body?.rows?.[0]?.value ?? 0) || 0;
  return counts;
}
