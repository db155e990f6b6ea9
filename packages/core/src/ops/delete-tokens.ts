/**
 * `picas delete`: deletes tokens by state (from the Monitor views) or by id, in two steps so the CLI
 * can confirm in between: `findTokensToDelete` reads what would go, `deleteTokens` deletes exactly those
 * revisions through `_bulk_docs`. A token that changed since it was read answers "conflict" and is skipped.
 */
import type { Couch } from '../couch/connection.js';
import { tokenState, type AnyTokenState, type TokenDoc } from '../token.js';
import { waitingTokens } from './dependencies.js';
import { pageView } from './list-tokens.js';
import { readTokens, type Skipped } from './reset.js';

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
  options: { ids?: readonly string[]; state?: AnyTokenState; signal?: AbortSignal },
): Promise<DeleteSelection> {
  const skipped: Skipped[] = [];
  const targets: DeleteTarget[] = [];
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
  for await (const row of pageView(couch, 'Monitor', options.state, { includeDocs: true, signal: options.signal })) {
    if (!row.doc) continue;
    const state = tokenState(row.doc);
    // a stale view row: the document has moved on to another state
    if (state !== options.state) continue;
    targets.push(target(row.doc, state));
  }
  return { targets, skipped };
}

function target(doc: TokenDoc, state: AnyTokenState | 'other'): DeleteTarget {
  return { id: doc._id, rev: doc._rev!, state, ...(doc.has_dependents ? { hasDependents: true } : {}) };
}

export interface DeleteOutcome {
  deleted: string[];
  skipped: Skipped[];
}

export async function deleteTokens(couch: Couch, targets: readonly DeleteTarget[], options: { batchSize?: number; signal?: AbortSignal } = {}): Promise<DeleteOutcome> {
  const { http } = couch;
  const outcome: DeleteOutcome = { deleted: [], skipped: [] };
  const batchSize = options.batchSize ?? 1000;
  for (let i = 0; i < targets.length; i += batchSize) {
    const batch = targets.slice(i, i + batchSize);
    const rows = await http.expectOk<Array<{ id?: string; error?: string; reason?: string }>>(
      { method: 'POST', path: http.dbPath('/_bulk_docs'), body: { docs: batch.map((t) => ({ _id: t.id, _rev: t.rev, _deleted: true })) }, signal: options.signal },
      'deleting tokens',
    );
    // match answers by id: the embedded server does not keep the request's order
    const byId = new Map(rows.map((row) => [row.id, row]));
    batch.forEach((target) => {
      const row = byId.get(target.id);
      if (row && !row.error) outcome.deleted.push(target.id);
      else if (row?.error === 'conflict') outcome.skipped.push({ id: target.id, reason: 'changed since it was read (conflict): not deleted' });
      else outcome.skipped.push({ id: target.id, reason: `not deleted: ${row?.error ?? 'no answer'}${row?.reason ? ` (${row.reason})` : ''}` });
    });
  }
  return outcome;
}
