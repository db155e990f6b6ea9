/**
 * `picas reset`: locked tokens back to todo, with PiCaS' scrub semantics (`scrubbed()`: lock fields
 * cleared, scrub_count + 1, the reason recorded in `events`). Which locked tokens: explicit ids, those
 * locked longer than `olderThanMs` (by PiCaS' `lock` timestamp), those whose lease expired (from the
 * `picas/locked_by_lease` view), or all of them. Every given condition must hold.
 *
 * Each write is a PUT with the `_rev` that was read: a 409 means the token moved on (its worker finished
 * or renewed it), so it is skipped and reported, never overwritten.
 */
import type { Couch } from '../couch/connection.js';
import { UsageError } from '../errors.js';
import { leaseExpired, scrubbed, tokenState, type TokenDoc } from '../token.js';
import { pageView } from './list-tokens.js';
import { writable } from './read-token.js';

export interface Skipped {
  id: string;
  reason: string;
}

export interface ScrubOutcome {
  /** ids written back to todo (with dryRun: the ids that would be) */
  changed: string[];
  skipped: Skipped[];
  dryRun: boolean;
}

export interface ResetOptions {
  ids?: readonly string[];
  olderThanMs?: number;
  expired?: boolean;
  /** every locked token (when no other condition is given) */
  all?: boolean;
  dryRun?: boolean;
  nowMs?: number;
  signal?: AbortSignal;
}

const WRITE_CONCURRENCY = 8;

export async function resetTokens(couch: Couch, options: ResetOptions): Promise<ScrubOutcome> {
  const ids = options.ids ?? [];
  if (ids.length === 0 && options.olderThanMs === undefined && !options.expired && !options.all) {
    throw new UsageError('say which locked tokens to reset: IDS, --older-than DURATION, --expired, or --all');
  }
  const nowMs = options.nowMs ?? Date.now();
  const skipped: Skipped[] = [];
  let candidates: TokenDoc[];
  if (ids.length > 0) {
    candidates = await readTokens(couch, ids, skipped, options.signal);
  } else if (options.expired) {
    candidates = await collectDocs(couch, 'picas', 'locked_by_lease', { endkey: Math.floor(nowMs / 1000), signal: options.signal });
  } else {
    candidates = await collectDocs(couch, 'Monitor', 'locked', { signal: options.signal });
  }
  const explicit = ids.length > 0;
  const targets: Array<{ doc: TokenDoc; message: string }> = [];
  for (const doc of candidates) {
    const state = tokenState(doc);
    if (state !== 'locked') {
      if (explicit) skipped.push({ id: doc._id, reason: `not locked (${state})` });
      continue;
    }
    const reasons: string[] = [];
    if (options.olderThanMs !== undefined) {
      const lockedForMs = nowMs - doc.lock * 1000;
      if (lockedForMs < options.olderThanMs) {
        if (explicit) skipped.push({ id: doc._id, reason: `locked only ${Math.round(lockedForMs / 1000)}s ago` });
        continue;
      }
      reasons.push(`locked for ${Math.round(lockedForMs / 1000)}s`);
    }
    if (options.expired) {
      if (!leaseExpired(doc, nowMs)) {
        if (explicit) skipped.push({ id: doc._id, reason: typeof doc.lease_until === 'number' && doc.lease_until > 0 ? 'its lease has not expired' : 'it has no lease (use --older-than)' });
        continue;
      }
      reasons.push(`lease expired at ${new Date((doc.lease_until ?? 0) * 1000).toISOString()}`);
    }
    targets.push({ doc, message: `reset by picas reset${reasons.length ? `: ${reasons.join(', ')}` : ''}` });
  }
  return writeScrubbed(couch, targets, 'reset', { dryRun: options.dryRun, nowMs, skipped, signal: options.signal });
}

/** Reads tokens by id in batches (`_all_docs` with `keys`); missing ids are reported as skipped. */
export async function readTokens(couch: Couch, ids: readonly string[], skipped: Skipped[], signal?: AbortSignal): Promise<TokenDoc[]> {
  const { http } = couch;
  const docs: TokenDoc[] = [];
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) {
    const keys = unique.slice(i, i + 500);
    const body = await http.expectOk<{ rows: Array<{ key: string; doc?: TokenDoc | null; error?: string; value?: { deleted?: boolean } }> }>(
      { method: 'POST', path: http.dbPath('/_all_docs'), query: { include_docs: true, conflicts: true }, body: { keys }, signal },
      'reading tokens',
    );
    for (const row of body.rows) {
      if (!row.doc) skipped.push({ id: row.key, reason: row.value?.deleted ? 'deleted' : 'not found' });
      else if (row.doc.type !== 'token') skipped.push({ id: row.key, reason: 'not a token' });
      else docs.push(row.doc);
    }
  }
  return docs;
}

/** Every document of a view's rows, collected before anything is written (writing would shift the pages). */
export async function collectDocs(couch: Couch, design: string, view: string, options: { endkey?: unknown; signal?: AbortSignal } = {}): Promise<TokenDoc[]> {
  const docs: TokenDoc[] = [];
  for await (const row of pageView(couch, design, view, { includeDocs: true, endkey: options.endkey, signal: options.signal })) {
    if (row.doc) docs.push(row.doc);
  }
  return docs;
}

/**
 * Writes each token back as todo (PUT with the `_rev` it was read with). A 409 is a skip: the token
 * changed since it was read. With dryRun nothing is written.
 */
export async function writeScrubbed(
  couch: Couch,
  targets: ReadonlyArray<{ doc: TokenDoc; message: string }>,
  event: string,
  options: { dryRun?: boolean; nowMs?: number; skipped?: Skipped[]; signal?: AbortSignal } = {},
): Promise<ScrubOutcome> {
  const outcome: ScrubOutcome = { changed: [], skipped: options.skipped ?? [], dryRun: !!options.dryRun };
  if (options.dryRun) {
    outcome.changed = targets.map((t) => t.doc._id);
    return outcome;
  }
  const { http } = couch;
  const results = new Map<string, string | undefined>();
  let next = 0;
  const work = async () => {
    while (next < targets.length && !options.signal?.aborted) {
      const { doc, message } = targets[next++]!;
      const updated = writable(scrubbed(doc, event, message, options.nowMs ?? Date.now()));
      const res = await http.request({ method: 'PUT', path: http.docPath(doc._id), body: updated, signal: options.signal });
      if (res.status === 201 || res.status === 202) results.set(doc._id, undefined);
      else if (res.status === 409) results.set(doc._id, 'changed since it was read (conflict): left as it is');
      else throw http.errorFor(res, `writing token ${doc._id}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, targets.length) }, work));
  for (const { doc } of targets) {
    if (!results.has(doc._id)) continue;
    const reason = results.get(doc._id);
    if (reason === undefined) outcome.changed.push(doc._id);
    else outcome.skipped.push({ id: doc._id, reason });
  }
  return outcome;
}
