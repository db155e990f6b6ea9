/**
 * Test helper (not a test file): a fresh database set up as `picas init` would (both design documents),
 * filled with tokens through `_bulk_docs`, and readers for what the tests assert on.
 */
import { CLAIM_DESIGN, MONITOR_DESIGN, PICAS_DESIGN, newToken, tokenState, type Couch, type TokenDoc } from '@picas/core';
import { fileLabel, freshDatabase, type TestDatabase } from '@picas/testkit';

export interface TokenSpec {
  id: string;
  input: string;
  fields?: Record<string, unknown>;
}

export async function tokenPool(metaUrl: string, tokens: readonly TokenSpec[] = []): Promise<TestDatabase> {
  const db = await freshDatabase(`${fileLabel(metaUrl)}`);
  for (const design of [MONITOR_DESIGN, CLAIM_DESIGN, PICAS_DESIGN]) {
    await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath(design._id), body: design }, `installing ${design._id}`);
  }
  await addTokens(db.couch, tokens);
  return db;
}

export async function addTokens(couch: Couch, tokens: readonly TokenSpec[]): Promise<void> {
  if (tokens.length === 0) return;
  const docs = tokens.map((t) => newToken(t.id, t.input, t.fields ?? {}));
  const res = await couch.http.expectOk<Array<{ error?: string }>>({ method: 'POST', path: couch.http.dbPath('/_bulk_docs'), body: { docs } }, 'adding tokens');
  const failed = res.filter((r) => r.error);
  if (failed.length) throw new Error(`could not add ${failed.length} tokens: ${JSON.stringify(failed.slice(0, 3))}`);
}

export async function allTokens(couch: Couch): Promise<TokenDoc[]> {
  const res = await couch.http.expectOk<{ rows: Array<{ doc?: TokenDoc }> }>({ path: couch.http.dbPath('/_all_docs'), query: { include_docs: true } }, 'reading tokens');
  return res.rows.map((r) => r.doc).filter((d): d is TokenDoc => !!d && d.type === 'token');
}

/** Token ids by state, as the Monitor views classify them. */
export async function tokensByState(couch: Couch): Promise<Record<'todo' | 'locked' | 'done' | 'error' | 'waiting' | 'blocked' | 'other', string[]>> {
  const out = { todo: [] as string[], locked: [] as string[], done: [] as string[], error: [] as string[], waiting: [] as string[], blocked: [] as string[], other: [] as string[] };
  for (const doc of await allTokens(couch)) out[tokenState(doc)].push(doc._id);
  return out;
}
