/**
 * `picas delete`: deletes tokens by state (from the Monitor views) or by id, in two steps so the CLI
 * can confirm in between: `findTokensToDelete` reads what would go, `deleteTokens` deletes exactly those
 * revisions through `_bulk_docs`. A token that changed since it was read answers "conflict" and is skipped.
 * For a whole state of a large pool, `deletionPages` streams the targets a page at a time instead (each
 * page deleted before the next is read), and `dependentsInState` does the dependency check up front from
 * the dependency graph alone, so that memory stays bounded by a page (and the graph), not the pool.
 */
import type { Couch } from '../couch/connection.js';
import { tokenState, type AnyTokenState, type TokenDoc, type TokenState } from '../token.js';
import { graphNodes, waitingTokens } from './dependencies.js';
import { defaultPageSize, viewPages } from './list-tokens.js';
import { bulkWrite, readTokens, type Skipped } from './reset.js';
import type { IndexBuild } from './view-progress.js';

export interface DeleteTarget {
  id: string;
  rev: string;
  state: AnyTokenState | 'other';
  /** other tokens may wait for it (`has_dependents`): deleting it needs --force and blocks them */
  hasDependents?: boolean;
}

export interface DeleteSelection {
  targets: DeleteTarget[];
  skipped: Skipped[];
}

export async function findTokensToDelete(
  couch: Couch,
  options: { ids?: readonly string[]; state?: AnyTokenState; prefix?: string; signal?: AbortSignal },
): Promise<DeleteSelection> {
  const skipped: Skipped[] = [];
  const targets: DeleteTarget[] = [];
  if (options.prefix !== undefined) {
    for await (const doc of tokensWithPrefix(couch, options.prefix, options.signal)) {
      const state = tokenState(doc);
      if (!options.state || state === options.state) targets.push(target(doc, state));
    }
    return { targets, skipped };
  }
  if (options.ids && options.ids.length > 0) {
    for (const doc of await readTokens(couch, options.ids, skipped, options.signal)) {
      const state = tokenState(doc);
      if (options.state && state !== options.state) skipped.push({ id: doc._id, reason: `not ${options.state} (${state})` });
      else targets.push(target(doc, state));
    }
    return { targets, skipped };
  }
  if (!options.state) return { targets, skipped };
  if (options.state === 'waiting' || options.state === 'blocked') {
    for await (const doc of waitingTokens(couch.http, options.state, { signal: options.signal })) {
      if (tokenState(doc) === options.state) targets.push(target(doc, options.state));
    }
    return { targets, skipped };
  }
  for await (const page of deletionPages(couch, options.state, { signal: options.signal })) targets.push(...page);
  return { targets, skipped };
}

/** The tokens whose id starts with `prefix`, in id order, a page of `_all_docs` at a time. */
export async function* tokensWithPrefix(couch: Couch, prefix: string, signal?: AbortSignal): AsyncGenerator<TokenDoc> {
  const { http } = couch;
  const pageSize = defaultPageSize();
  const endkey = `${prefix}\ufff0`;
  let after: string | undefined;
  for (;;) {
    const body = await http.expectOk<{ rows: Array<{ id: string; doc?: TokenDoc | null }> }>(
      { path: http.dbPath('/_all_docs'), query: { include_docs: true, startkey: after ?? prefix, endkey, limit: pageSize + (after ? 1 : 0) }, signal },
      `reading the tokens whose id starts with ${prefix}`,
    );
    // after the first page, the first row is the last one of the page before
    const rows = after !== undefined && body.rows[0]?.id === after ? body.rows.slice(1) : body.rows;
    for (const row of rows) if (row.doc?.type === 'token') yield row.doc;
    if (rows.length < pageSize) return;
    after = rows.at(-1)!.id;
  }
}

/**
 * The tokens in a state (todo, locked, done or error) to delete, a page (one view read) at a time. Delete
 * each page before reading the next: the view is paged by position, so rows that go shift nothing.
 */
export async function* deletionPages(
  couch: Couch,
  state: TokenState,
  options: { pageSize?: number; signal?: AbortSignal; onProgress?: (builds: IndexBuild[]) => void } = {},
): AsyncGenerator<DeleteTarget[]> {
  for await (const rows of viewPages(couch, 'Monitor', state, { includeDocs: true, pageSize: options.pageSize, signal: options.signal, onProgress: options.onProgress })) {
    // a stale view row (the document moved on to another state), or one deleted meanwhile, is left out
    yield rows.flatMap((row) => (row.doc && tokenState(row.doc) === state ? [target(row.doc, state)] : []));
  }
}

/**
 * The tokens in `state` (todo, locked, done or error) that waiting or blocked tokens depend on, with those
 * dependents' ids: from the dependency graph (`picas_deps/nodes`), whose size is that of the graph, not of
 * the pool. Empty on a database without `_design/picas_deps`.
 */
export async function dependentsInState(couch: Couch, state: TokenState, signal?: AbortSignal): Promise<Map<string, string[]>> {
  const states = new Map<string, string>();
  const children = new Map<string, string[]>();
  for await (const node of graphNodes(couch.http, { signal })) {
    states.set(node.id, node.state);
    if (node.state !== 'waiting' && node.state !== 'blocked') continue;
    for (const parent of node.dependsOn) children.set(parent, [...(children.get(parent) ?? []), node.id]);
  }
  const out = new Map<string, string[]>();
  for (const [parent, ids] of children) if (states.get(parent) === state) out.set(parent, ids);
  return out;
}

function target(doc: TokenDoc, state: AnyTokenState | 'other'): DeleteTarget {
  return { id: doc._id, rev: doc._rev!, state, ...(doc.has_dependents ? { hasDependents: true } : {}) };
}

export interface DeleteOutcome {
  deleted: string[];
  skipped: Skipped[];
}

export async function deleteTokens(couch: Couch, targets: readonly DeleteTarget[], options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<DeleteOutcome> {
  const outcome: DeleteOutcome = { deleted: [], skipped: [] };
  const batchSize = options.batchSize ?? defaultPageSize();
  for (let i = 0; i < targets.length; i += batchSize) {
    const batch = targets.slice(i, i + batchSize);
    // each with the revision that was read: a token that changed since answers "conflict"
    const byId = await bulkWrite(couch, batch.map((t) => ({ _id: t.id, _rev: t.rev, _deleted: true })), 'deleting tokens', options.signal);
    batch.forEach((target) => {
      const row = byId.get(target.id);
      if (row && !row.error) outcome.deleted.push(target.id);
      else if (row?.error === 'conflict') outcome.skipped.push({ id: target.id, reason: 'changed since it was read (conflict): not deleted' });
      else outcome.skipped.push({ id: target.id, reason: `not deleted: ${row?.error ?? 'no answer'}${row?.reason ? ` (${row.reason})` : ''}` });
    });
  }
  return outcome;
}
