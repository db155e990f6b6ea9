/**
 * Lists tokens by state from PiCaS' `_design/Monitor` views, a page at a time (never the whole database
 * at once). `pageView` is the paging itself, shared by reset, retry and delete.
 */
import type { Couch } from '../couch/connection.js';
import { NotFoundError } from '../errors.js';
import { ALL_TOKEN_STATES, tokenState, type AnyTokenState, type TokenDoc } from '../token.js';
import { waitingTokens } from './dependencies.js';

export const DEFAULT_PAGE_SIZE = 500;

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
}

/**
 * Pages through a view: `limit` rows per request, continuing at the last key with `skip` over the rows
 * already seen with that key (works for repeated keys, on CouchDB and on the embedded server alike).
 * Do not change the rows' documents while paging: collect first, then write.
 */
export async function* pageView<D = TokenDoc>(couch: Couch, design: string, view: string, options: PageViewOptions = {}): AsyncGenerator<ViewRow<D>> {
  const pageSize = Math.max(1, options.pageSize ?? DEFAULT_PAGE_SIZE);
  let remaining = options.limit ?? Infinity;
  let startkey = options.startkey;
  let skip = 0;
  const path = couch.http.dbPath(`/_design/${encodeURIComponent(design)}/_view/${encodeURIComponent(view)}`);
  while (remaining > 0) {
    const limit = Math.min(pageSize, remaining);
    const res = await couch.http.request<{ rows?: Array<ViewRow<D>> }>({
      path,
      query: {
        reduce: false,
        include_docs: options.includeDocs ? true : undefined,
        startkey: startkey as object | undefined,
        endkey: options.endkey as object | undefined,
        skip: skip || undefined,
        limit,
      },
      signal: options.signal,
    });
    if (res.status === 404) throw missingView(couch, res.body, design, view);
    if (res.status < 200 || res.status >= 300) throw couch.http.errorFor(res, `reading the ${design}/${view} view`);
    const rows = res.body?.rows ?? [];
    for (const row of rows) yield row;
    remaining -= rows.length;
    if (rows.length < limit) return;
    const lastKey = JSON.stringify(rows.at(-1)!.key);
    let sameKey = 0;
    for (let i = rows.length - 1; i >= 0 && JSON.stringify(rows[i]!.key) === lastKey; i--) sameKey++;
    // a whole page with one key: keep skipping from the same start key
    skip = sameKey === rows.length && JSON.stringify(startkey) === lastKey ? skip + sameKey : sameKey;
    startkey = rows.at(-1)!.key;
  }
}

/** The NotFoundError for a 404 on a view: the database or the design document is missing. */
export function missingView(couch: Couch, body: unknown, design: string, view: string): NotFoundError {
  const reason = (body as { reason?: string } | undefined)?.reason ?? '';
  if (reason === 'no_db_file' || reason === 'Database does not exist.') {
    return new NotFoundError(`database '${couch.config.db}' does not exist: run picas init`);
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
    for await (const row of pageView(couch, 'Monitor', state, { includeDocs: true, limit: remaining, pageSize: options.pageSize, signal: options.signal })) {
      if (!row.doc) continue; // deleted between the view read and the document read
      remaining--;
      const actual = tokenState(row.doc);
      yield { state: actual === 'other' ? state : actual, doc: row.doc };
    }
  }
}
