/**
 * Lists tokens by state from PiCaS' `_design/Monitor` views, a page at a time (never the whole database
 * at once). `pageView` is the paging itself, shared by reset, retry and delete.
 */
import type { Couch } from '../couch/connection.js';
import { MissingDatabaseError, NotFoundError } from '../errors.js';
import { ALL_TOKEN_STATES, tokenState, type AnyTokenState, type TokenDoc } from '../token.js';
import { waitingTokens } from './dependencies.js';
import { readViewWhileBuilding, type IndexBuild } from './view-progress.js';

export const DEFAULT_PAGE_SIZE = 500;

/**
 * The page size for view reads and `_bulk_docs` writes: `PICAS_PAGE_SIZE` (an internal setting, used by the
 * tests to cross pages with a few hundred tokens), else DEFAULT_PAGE_SIZE.
 */
export function defaultPageSize(): number {
  const n = Number(process.env.PICAS_PAGE_SIZE);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_PAGE_SIZE;
}

export interface ViewRow<D = TokenDoc> {
  id: string;
  key: unknown;
  value: unknown;
  doc?: D;
}

export interface PageViewOptions {
  startkey?: unknown;
  endkey?: unknown;
  includeDocs?: boolean;
  /** rows per request */
  pageSize?: number;
  /** stop after this many rows */
  limit?: number;
  signal?: AbortSignal;
  /** called while the view's index is being built (view-progress.ts): the read waits for it */
  onProgress?: (builds: IndexBuild[]) => void;
}

/**
 * Pages through a view: `limit` rows per request, each page starting where the last one ended, at its
 * last row's key and document id (`startkey` + `startkey_docid`, never `skip`, which costs CouchDB a
 * walk over every skipped row). Because the cursor is a position, not an offset, the caller may change
 * the rows' documents while paging: a row that leaves the view behind the cursor shifts nothing. (A write
 * that moves a document further ahead in the same view would show it again; reset, retry and delete only
 * take documents out of the view they page.) A view whose index is being built is waited for, with its
 * progress reported (`onProgress`), instead of failing with CouchDB's timeout.
 */
export async function* pageView<D = TokenDoc>(couch: Couch, design: string, view: string, options: PageViewOptions = {}): AsyncGenerator<ViewRow<D>> {
  for await (const page of viewPages<D>(couch, design, view, options)) yield* page;
}

/** `pageView` a page (one request) at a time: the caller may write a page's documents before the next is read. */
export async function* viewPages<D = TokenDoc>(couch: Couch, design: string, view: string, options: PageViewOptions = {}): AsyncGenerator<Array<ViewRow<D>>> {
  const pageSize = Math.max(1, options.pageSize ?? defaultPageSize());
  let remaining = options.limit ?? Infinity;
  let cursor: { key: unknown; id: string } | undefined;
  const path = couch.http.dbPath(`/_design/${encodeURIComponent(design)}/_view/${encodeURIComponent(view)}`);
  while (remaining > 0) {
    // after the first page, one row more: the cursor's own row, when it is still in the view
    const limit = Math.min(pageSize, remaining) + (cursor ? 1 : 0);
    const res = await readViewWhileBuilding<{ rows?: Array<ViewRow<D>> }>(
      couch.http,
      path,
      {
        reduce: false,
        include_docs: options.includeDocs ? true : undefined,
        startkey: (cursor ? cursor.key : options.startkey) as object | undefined,
        startkey_docid: cursor?.id,
        endkey: options.endkey as object | undefined,
        limit,
      },
      { signal: options.signal, onProgress: options.onProgress },
    );
    if (res.status === 404) throw missingView(couch, res.body, design, view);
    if (res.status < 200 || res.status >= 300) throw couch.http.errorFor(res, `reading the ${design}/${view} view`);
    let rows = res.body?.rows ?? [];
    const got = rows.length;
    if (cursor && rows.length > 0 && rows[0]!.id === cursor.id && sameKey(rows[0]!.key, cursor.key)) rows = rows.slice(1);
    if (rows.length > remaining) rows = rows.slice(0, remaining);
    if (rows.length === 0) return;
    remaining -= rows.length;
    const last = rows.at(-1)!;
    yield rows;
    if (got < limit) return;
    cursor = { key: last.key, id: last.id };
  }
}

function sameKey(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The NotFoundError for a 404 on a view: the database or the design document is missing. */
export function missingView(couch: Couch, body: unknown, design: string, view: string): NotFoundError {
  const reason = (body as { reason?: string } | undefined)?.reason ?? '';
  if (reason === 'no_db_file' || reason === 'Database does not exist.') {
    return new MissingDatabaseError(`database '${couch.config.db}' does not exist: run picas init`);
  }
  return new NotFoundError(`database '${couch.config.db}' has no view ${design}/${view}: run picas init`);
}

export interface ListedToken {
  state: AnyTokenState;
  doc: TokenDoc;
}

export interface ListTokensOptions {
  /** one state, or every state in the order todo, locked, done, error, waiting, blocked */
  state?: AnyTokenState;
  limit?: number;
  pageSize?: number;
  signal?: AbortSignal;
  /** called while a view index is being built */
  onProgress?: (builds: IndexBuild[]) => void;
}

/** Tokens in a state (or in every state), with their documents (attachment stubs, not bodies). */
export async function* listTokens(couch: Couch, options: ListTokensOptions = {}): AsyncGenerator<ListedToken> {
  let remaining = options.limit ?? Infinity;
  for (const state of options.state ? [options.state] : ALL_TOKEN_STATES) {
    if (remaining <= 0) return;
    if (state === 'waiting' || state === 'blocked') {
      // picas' own states, from _design/picas_deps (docs/dag.md)
      for await (const doc of waitingTokens(couch.http, state, { limit: remaining, pageSize: options.pageSize, signal: options.signal })) {
        remaining--;
        const actual = tokenState(doc);
        yield { state: actual === 'other' ? state : actual, doc };
      }
      continue;
    }
    for await (const row of pageView(couch, 'Monitor', state, { includeDocs: true, limit: remaining, pageSize: options.pageSize, signal: options.signal, onProgress: options.onProgress })) {
      if (!row.doc) continue; // deleted between the view read and the document read
      remaining--;
      const actual = tokenState(row.doc);
      yield { state: actual === 'other' ? state : actual, doc: row.doc };
    }
  }
}
