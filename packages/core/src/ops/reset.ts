/**
 * `picas reset`: locked tokens back to todo, with PiCaS' scrub semantics (`scrubbed()`: lock fields
 * cleared, scrub_count + 1, the reason recorded in `events`). Which locked tokens: explicit ids, those
 * locked longer than `olderThanMs` (by PiCaS' `lock` timestamp), those whose lease expired (from the
 * `picas/locked_by_lease` view), those held by given pilots (by `worker_id`: `picas reset --pilot`, and
 * `--lost` for the pilots whose records say they are lost), or all of them. Every given condition must hold.
 *
 * Streamed, for pools of millions: the candidates are read a page at a time (`viewPages`, by key and
 * document id, never `skip`), and each page is written back with one `_bulk_docs` before the next is read.
 * Each document carries the `_rev` it was read with: a conflict means the token moved on (its worker
 * finished or renewed it), so it is skipped and reported, never overwritten. With `onPage`, each page's
 * outcome is handed over and not kept, so memory stays bounded by one page whatever the pool's size.
 */
import type { Couch } from '../couch/connection.js';
import type { CouchResponse } from '../couch/http.js';
import { UsageError } from '../errors.js';
import { sleep } from '../couch/retry.js';
import { leaseExpired, scrubbed, tokenState, type TokenDoc } from '../token.js';
import { defaultPageSize, viewPages } from './list-tokens.js';
import { writable } from './read-token.js';
import type { IndexBuild } from './view-progress.js';

export interface Skipped {
  id: string;
  reason: string;
  /** no such token: the id was never there, or the token was deleted */
  missing?: boolean;
}

export interface ScrubOutcome {
  /** ids written back to todo (with dryRun: the ids that would be); empty when the pages went to `onPage` */
  changed: string[];
  skipped: Skipped[];
  dryRun: boolean;
  /** how many were changed and skipped, and how many candidates were read, in all */
  counts?: { changed: number; skipped: number; scanned: number };
}

/** One page's outcome, handed to `onPage` as soon as it is written. */
export interface ScrubPage {
  changed: string[];
  skipped: Skipped[];
  /** candidates read in this page */
  scanned: number;
}

export interface ScrubRunOptions {
  dryRun?: boolean;
  nowMs?: number;
  signal?: AbortSignal;
  /** each page's outcome; when given, the pages are not collected into the returned outcome */
  onPage?: (page: ScrubPage) => void;
  /** called while a view's index is being built (view-progress.ts) */
  onProgress?: (builds: IndexBuild[]) => void;
  /** documents read and written per request (default: PICAS_PAGE_SIZE, else 500) */
  pageSize?: number;
}

export interface ResetOptions extends ScrubRunOptions {
  ids?: readonly string[];
  olderThanMs?: number;
  expired?: boolean;
  /** only tokens held by these pilots (their `worker_id`); an empty list selects nothing */
  pilots?: readonly string[];
  /** every locked token (when no other condition is given) */
  all?: boolean;
}

/** A page of candidates: their documents, and the ids that could not be read (by-id selections only). */
export interface CandidatePage {
  docs: TokenDoc[];
  skipped: Skipped[];
}

export type Target = { doc: TokenDoc; message: string };

/** A reset must say which tokens: ids, or at least one condition. */
export function checkResetSelection(options: Pick<ResetOptions, 'ids' | 'olderThanMs' | 'expired' | 'pilots' | 'all'>): void {
  if ((options.ids ?? []).length === 0 && options.olderThanMs === undefined && !options.expired && options.pilots === undefined && !options.all) {
    throw new UsageError('say which locked tokens to reset: IDS, --older-than DURATION, --expired, or --all (or those of pilots: --pilot ID, --lost)');
  }
}

export async function resetTokens(couch: Couch, options: ResetOptions): Promise<ScrubOutcome> {
  checkResetSelection(options);
  const ids = options.ids ?? [];
  const nowMs = options.nowMs ?? Date.now();
  const explicit = ids.length > 0;
  const pilots = options.pilots === undefined ? undefined : new Set(options.pilots);
  if (pilots?.size === 0) return { changed: [], skipped: [], dryRun: !!options.dryRun, counts: { changed: 0, skipped: 0, scanned: 0 } };
  const pages = explicit
    ? tokenPages(couch, ids, options)
    : options.expired
      ? docPages(couch, 'picas', 'locked_by_lease', { ...options, endkey: Math.floor(nowMs / 1000) })
      : docPages(couch, 'Monitor', 'locked', options);
  const select = (doc: TokenDoc, skipped: Skipped[]): string | undefined => {
    const state = tokenState(doc);
    if (state !== 'locked') {
      if (explicit) skipped.push({ id: doc._id, reason: `not locked (${state})` });
      return undefined;
    }
    const reasons: string[] = [];
    if (options.olderThanMs !== undefined) {
      const lockedForMs = nowMs - doc.lock * 1000;
      if (lockedForMs < options.olderThanMs) {
        if (explicit) skipped.push({ id: doc._id, reason: `locked only ${Math.round(lockedForMs / 1000)}s ago` });
        return undefined;
      }
      reasons.push(`locked for ${Math.round(lockedForMs / 1000)}s`);
    }
    if (options.expired) {
      if (!leaseExpired(doc, nowMs)) {
        if (explicit) skipped.push({ id: doc._id, reason: typeof doc.lease_until === 'number' && doc.lease_until > 0 ? 'its lease has not expired' : 'it has no lease (use --older-than)' });
        return undefined;
      }
      reasons.push(`lease expired at ${new Date((doc.lease_until ?? 0) * 1000).toISOString()}`);
    }
    if (pilots) {
      if (doc.worker_id === undefined || !pilots.has(doc.worker_id)) {
        if (explicit) skipped.push({ id: doc._id, reason: `held by ${doc.worker_id ?? 'no known pilot'}, not by ${[...pilots].join(', ')}` });
        return undefined;
      }
      reasons.push(`held by pilot ${doc.worker_id}`);
    }
    return `reset by picas reset${reasons.length ? `: ${reasons.join(', ')}` : ''}`;
  };
  return scrubPages(couch, pages, select, 'reset', { ...options, nowMs });
}

/**
 * Reads, selects and writes page after page: `select` returns the event message for a token to scrub, or
 * undefined (after recording why in `skipped`, if it should be reported). `afterWrite` runs on each
 * written page (retry unblocks dependents there).
 */
export async function scrubPages(
  couch: Couch,
  pages: AsyncIterable<CandidatePage>,
  select: (doc: TokenDoc, skipped: Skipped[]) => string | undefined,
  event: string,
  options: ScrubRunOptions & { afterWrite?: (targets: readonly Target[], page: ScrubOutcome) => Promise<void> },
): Promise<ScrubOutcome> {
  const outcome: ScrubOutcome = { changed: [], skipped: [], dryRun: !!options.dryRun, counts: { changed: 0, skipped: 0, scanned: 0 } };
  const counts = outcome.counts!;
  for await (const candidates of pages) {
    const skipped = [...candidates.skipped];
    const targets: Target[] = [];
    for (const doc of candidates.docs) {
      const message = select(doc, skipped);
      if (message !== undefined) targets.push({ doc, message });
    }
    if (pagePauseMs() > 0) await sleep(pagePauseMs(), options.signal);
    const page = await writeScrubbed(couch, targets, event, { dryRun: options.dryRun, nowMs: options.nowMs, skipped, signal: options.signal });
    await options.afterWrite?.(targets, page);
    const scanned = candidates.docs.length + candidates.skipped.length;
    counts.changed += page.changed.length;
    counts.skipped += page.skipped.length;
    counts.scanned += scanned;
    if (options.onPage) options.onPage({ changed: page.changed, skipped: page.skipped, scanned });
    else {
      outcome.changed.push(...page.changed);
      outcome.skipped.push(...page.skipped);
    }
    if (options.signal?.aborted) break;
  }
  return outcome;
}

/** Internal, for the tests: a pause between reading a page and writing it (`PICAS_PAGE_PAUSE_MS`), to race a concurrent change against it. */
function pagePauseMs(): number {
  const n = Number(process.env.PICAS_PAGE_PAUSE_MS);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Tokens by id, a page of ids at a time (`_all_docs` with `keys`); missing ids and non-tokens are reported as skipped. */
export async function* tokenPages(couch: Couch, ids: readonly string[], options: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<CandidatePage> {
  const { http } = couch;
  const pageSize = Math.max(1, options.pageSize ?? defaultPageSize());
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += pageSize) {
    const keys = unique.slice(i, i + pageSize);
    const body = await http.expectOk<{ rows: Array<{ key: string; doc?: TokenDoc | null; error?: string; value?: { deleted?: boolean } }> }>(
      { method: 'POST', path: http.dbPath('/_all_docs'), query: { include_docs: true, conflicts: true }, body: { keys }, signal: options.signal },
      'reading tokens',
    );
    const page: CandidatePage = { docs: [], skipped: [] };
    for (const row of body.rows) {
      if (!row.doc) page.skipped.push({ id: row.key, reason: row.value?.deleted ? 'deleted' : 'not found', missing: true });
      else if (row.doc.type !== 'token') page.skipped.push({ id: row.key, reason: 'not a token' });
      else page.docs.push(row.doc);
    }
    yield page;
  }
}

/** Reads tokens by id (all of them; for a short list of ids): missing ids are reported as skipped. */
export async function readTokens(couch: Couch, ids: readonly string[], skipped: Skipped[], signal?: AbortSignal): Promise<TokenDoc[]> {
  const docs: TokenDoc[] = [];
  for await (const page of tokenPages(couch, ids, { signal })) {
    docs.push(...page.docs);
    skipped.push(...page.skipped);
  }
  return docs;
}

/** The documents of a view's rows, a page (one request) at a time. */
export async function* docPages(
  couch: Couch,
  design: string,
  view: string,
  options: { endkey?: unknown; pageSize?: number; signal?: AbortSignal; onProgress?: (builds: IndexBuild[]) => void } = {},
): AsyncGenerator<CandidatePage> {
  for await (const rows of viewPages(couch, design, view, { includeDocs: true, endkey: options.endkey, pageSize: options.pageSize, signal: options.signal, onProgress: options.onProgress })) {
    // a row without its document: deleted between the view read and the document read
    yield { docs: rows.flatMap((row) => (row.doc ? [row.doc] : [])), skipped: [] };
  }
}

/**
 * Writes the tokens back as todo with one `_bulk_docs`, each with the `_rev` it was read with. A conflict
 * is a skip: the token changed since it was read. With dryRun nothing is written.
 */
export async function writeScrubbed(
  couch: Couch,
  targets: readonly Target[],
  event: string,
  options: { dryRun?: boolean; nowMs?: number; skipped?: Skipped[]; signal?: AbortSignal } = {},
): Promise<ScrubOutcome> {
  const outcome: ScrubOutcome = { changed: [], skipped: options.skipped ?? [], dryRun: !!options.dryRun };
  if (options.dryRun || targets.length === 0) {
    outcome.changed = targets.map((t) => t.doc._id);
    return outcome;
  }
  const nowMs = options.nowMs ?? Date.now();
  const docs = targets.map(({ doc, message }) => writable(scrubbed(doc, event, message, nowMs)));
  const rows = await bulkWrite(couch, docs, 'writing tokens back to todo', options.signal);
  for (const { doc } of targets) {
    const row = rows.get(doc._id);
    if (row && !row.error) outcome.changed.push(doc._id);
    else if (row?.error === 'conflict') outcome.skipped.push({ id: doc._id, reason: 'changed since it was read (conflict): left as it is' });
    else throw bulkRowError(couch, row, `writing token ${doc._id}`);
  }
  return outcome;
}

export interface BulkRow {
  id?: string;
  rev?: string;
  error?: string;
  reason?: string;
}

/** One `_bulk_docs` (revisions checked: a stale `_rev` answers "conflict"); its rows by id (the embedded server does not keep the request's order). */
export async function bulkWrite(couch: Couch, docs: readonly object[], what: string, signal?: AbortSignal): Promise<Map<string | undefined, BulkRow>> {
  const { http } = couch;
  const rows = await http.expectOk<BulkRow[]>({ method: 'POST', path: http.dbPath('/_bulk_docs'), body: { docs }, signal }, what);
  return new Map(rows.map((row) => [row.id, row]));
}

/** The error a failed `_bulk_docs` row stands for, as if its document had been written on its own. */
export function bulkRowError(couch: Couch, row: BulkRow | undefined, what: string): Error {
  const status = row?.error === 'forbidden' ? 403 : row?.error === 'unauthorized' ? 401 : row?.error === 'not_found' ? 404 : 500;
  return couch.http.errorFor({ status, body: row ?? { error: 'no answer' }, headers: {} } as CouchResponse, what);
}
