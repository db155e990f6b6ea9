/**
 * Reads one token with its conflict list (`?conflicts=true`). A missing or deleted document is `undefined`;
 * any other non-2xx answer throws the matching picas error.
 */
import type { CouchHttp } from '../couch/http.js';
import type { TokenDoc } from '../token.js';

export async function readToken(http: CouchHttp, id: string, options: { signal?: AbortSignal } = {}): Promise<TokenDoc | undefined> {
  const res = await http.request<TokenDoc>({ path: http.docPath(id), query: { conflicts: true }, signal: options.signal });
  if (res.status === 404) return undefined;
  if (res.status >= 200 && res.status < 300) return res.body;
  throw http.errorFor(res, `reading token ${id}`);
}

/** True when the document has more than one leaf revision (a split that `picas repair` resolves). */
export function hasConflicts(doc: TokenDoc | undefined): boolean {
  return !!doc && Array.isArray(doc._conflicts) && doc._conflicts.length > 0;
}

/** The document as it may be written back: without the read-only `_conflicts` member. */
export function writable(doc: TokenDoc): TokenDoc {
  const { _conflicts, ...rest } = doc;
  void _conflicts;
  return rest as TokenDoc;
}
