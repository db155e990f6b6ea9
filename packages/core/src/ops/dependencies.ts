/**
 * Reads of the dependency views (`_design/picas_deps`, see design-docs-deps.ts). A database without that
 * design document (made by Python PiCaS, or not yet `picas init`-ed by this version) has no waiting
 * tokens as far as these reads go: they answer empty instead of failing, so pilots work on it unchanged.
 */
import type { CouchHttp } from '../couch/http.js';
import { tokenState, type AnyTokenState, type TokenDoc } from '../token.js';

export const DEPS_DESIGN_NAME = 'picas_deps';

/** A dependency's state as a dependent sees it; `missing` when no such token exists (never pushed, or deleted). */
export type DependencyNodeState = AnyTokenState | 'other' | 'missing';

export interface DependencyNode {
  state: DependencyNodeState;
  dependsOn: string[];
  /** for a blocked token: the failed dependency at the root */
  blockedBy?: string;
}

const KEYS_PER_REQUEST = 200;

function viewPath(http: CouchHttp, view: string): string {
  return http.dbPath(`/_design/${DEPS_DESIGN_NAME}/_view/${view}`);
}

/** True when the answer is a 404 for a missing design document (not for a missing database). */
function missingDesign(status: number, body: unknown): boolean {
  const reason = (body as { reason?: string } | undefined)?.reason ?? '';
  return status === 404 && reason !== 'no_db_file' && reason !== 'Database does not exist.';
}

/**
 * The state of each id: from the `nodes` view (POST keys), and for ids not in it (a token that nobody was
 * known to depend on, or none at all) from `_all_docs`.
 */
export async function dependencyNodes(http: CouchHttp, ids: Iterable<string>, signal?: AbortSignal): Promise<Map<string, DependencyNode>> {
  const wanted = [...new Set(ids)];
  const out = new Map<string, DependencyNode>();
  for (let i = 0; i < wanted.length; i += KEYS_PER_REQUEST) {
    const keys = wanted.slice(i, i + KEYS_PER_REQUEST);
    const res = await http.request<{ rows?: Array<{ key: string; value: [DependencyNodeState, string[], string | null] }> }>({
      method: 'POST',
      path: viewPath(http, 'nodes'),
      body: { keys },
      signal,
    });
    if (res.status >= 300 && !missingDesign(res.status, res.body)) throw http.errorFor(res, 'reading the picas_deps/nodes view');
    for (const row of res.body?.rows ?? []) {
      const [state, dependsOn, blockedBy] = row.value;
      out.set(row.key, { state, dependsOn: Array.isArray(dependsOn) ? dependsOn : [], ...(blockedBy ? { blockedBy } : {}) });
    }
  }
  const rest = wanted.filter((id) => !out.has(id));
  for (let i = 0; i < rest.length; i += KEYS_PER_REQUEST) {
    const keys = rest.slice(i, i + KEYS_PER_REQUEST);
    const body = await http.expectOk<{ rows: Array<{ key: string; doc?: TokenDoc | null }> }>(
      { method: 'POST', path: http.dbPath('/_all_docs'), query: { include_docs: true }, body: { keys }, signal },
      'reading dependencies',
    );
    for (const row of body.rows) {
      if (!row.doc || row.doc.type !== 'token') out.set(row.key, { state: 'missing', dependsOn: [] });
      else out.set(row.key, { state: tokenState(row.doc), dependsOn: Array.isArray(row.doc.depends_on) ? row.doc.depends_on : [], ...(row.doc.blocked_by ? { blockedBy: row.doc.blocked_by.id } : {}) });
    }
  }
  return out;
}

/**
 * Waiting and blocked tokens that depend on `id`, with their documents (as they are now: the caller checks
 * their state). `lazy`: the index as it stands (`update=lazy`), without waiting for it to take in the latest
 * writes, which then happens in the background.
 */
export async function waitingDependentsOf(http: CouchHttp, id: string, signal?: AbortSignal, options: { lazy?: boolean } = {}): Promise<TokenDoc[]> {
  const res = await http.request<{ rows?: Array<{ doc?: TokenDoc | null }> }>({
    path: viewPath(http, 'waiting_by_dependency'),
    // conflicts: a completing pilot takes a released dependent only when it is a single leaf
    query: { key: id, include_docs: true, conflicts: true, update: options.lazy ? 'lazy' : undefined },
    signal,
  });
  if (missingDesign(res.status, res.body)) return [];
  if (res.status >= 300) throw http.errorFor(res, 'reading the picas_deps/waiting_by_dependency view');
  return (res.body?.rows ?? []).flatMap((row) => (row.doc ? [row.doc] : []));
}

/** For each of `ids`, the ids of the waiting and blocked tokens that depend on it (only ids that have some). */
export async function dependentIds(http: CouchHttp, ids: readonly string[], signal?: AbortSignal): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < ids.length; i += KEYS_PER_REQUEST) {
    const res = await http.request<{ rows?: Array<{ key: string; id: string }> }>({
      method: 'POST',
      path: viewPath(http, 'waiting_by_dependency'),
      body: { keys: ids.slice(i, i + KEYS_PER_REQUEST) },
      signal,
    });
    if (missingDesign(res.status, res.body)) return out;
    if (res.status >= 300) throw http.errorFor(res, 'reading the picas_deps/waiting_by_dependency view');
    for (const row of res.body?.rows ?? []) out.set(row.key, [...(out.get(row.key) ?? []), row.id]);
  }
  return out;
}

/** Waiting (or blocked) token counts from the `waiting` view; zeros on a database without it. */
export async function dependencyCounts(http: CouchHttp, signal?: AbortSignal): Promise<{ waiting: number; blocked: number }> {
  const res = await http.request<{ rows?: Array<{ key: unknown[]; value: number }> }>({ path: viewPath(http, 'waiting'), query: { group_level: 1 }, signal });
  const counts = { waiting: 0, blocked: 0 };
  if (missingDesign(res.status, res.body)) return counts;
  if (res.status >= 300) throw http.errorFor(res, 'reading the picas_deps/waiting view');
  for (const row of res.body?.rows ?? []) {
    const state = row.key?.[0];
    if (state === 'waiting' || state === 'blocked') counts[state] = Number(row.value) || 0;
  }
  return counts;
}

/** The `waiting` view's key range for `picas list --state waiting|blocked` (and, for blocked, one root). */
export function waitingRange(state: 'waiting' | 'blocked', root?: string): { startkey: unknown[]; endkey: unknown[] } {
  if (root !== undefined) return { startkey: [state, root], endkey: [state, root] };
  return { startkey: [state], endkey: [state, {}] };
}

/** Waiting (or blocked by `root`) tokens with their documents, a page at a time. */
export async function* waitingTokens(http: CouchHttp, state: 'waiting' | 'blocked', options: { root?: string; pageSize?: number; limit?: number; signal?: AbortSignal } = {}): AsyncGenerator<TokenDoc> {
  const range = waitingRange(state, options.root);
  const pageSize = options.pageSize ?? 500;
  let remaining = options.limit ?? Infinity;
  let startkey: unknown = range.startkey;
  let startDocId: string | undefined;
  while (remaining > 0) {
    const limit = Math.min(pageSize, remaining) + (startDocId === undefined ? 0 : 1);
    const res = await http.request<{ rows?: Array<{ id: string; key: unknown; doc?: TokenDoc | null }> }>({
      path: viewPath(http, 'waiting'),
      query: { reduce: false, include_docs: true, startkey: startkey as object, endkey: range.endkey, startkey_docid: startDocId, limit },
      signal: options.signal,
    });
    if (missingDesign(res.status, res.body)) return;
    if (res.status >= 300) throw http.errorFor(res, 'reading the picas_deps/waiting view');
    let rows = res.body?.rows ?? [];
    const got = rows.length;
    if (startDocId !== undefined && rows[0]?.id === startDocId) rows = rows.slice(1);
    for (const row of rows) {
      if (!row.doc) continue;
      remaining--;
      yield row.doc;
      if (remaining <= 0) return;
    }
    if (got < limit) return;
    const last = rows.at(-1);
    if (!last) return;
    startkey = last.key;
    startDocId = last.id;
  }
}

/** Every node of the dependency graph (tokens with dependencies or dependents), a page at a time. */
export async function* graphNodes(http: CouchHttp, options: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<{ id: string } & DependencyNode> {
  const pageSize = options.pageSize ?? 1000;
  let startkey: string | undefined;
  for (;;) {
    const res = await http.request<{ rows?: Array<{ key: string; value: [DependencyNodeState, string[], string | null] }> }>({
      path: viewPath(http, 'nodes'),
      query: { startkey, skip: startkey === undefined ? undefined : 1, limit: pageSize },
      signal: options.signal,
    });
    if (missingDesign(res.status, res.body)) return;
    if (res.status >= 300) throw http.errorFor(res, 'reading the picas_deps/nodes view');
    const rows = res.body?.rows ?? [];
    for (const row of rows) {
      const [state, dependsOn, blockedBy] = row.value;
      yield { id: row.key, state, dependsOn: Array.isArray(dependsOn) ? dependsOn : [], ...(blockedBy ? { blockedBy } : {}) };
    }
    if (rows.length < pageSize) return;
    startkey = rows.at(-1)!.key;
  }
}
