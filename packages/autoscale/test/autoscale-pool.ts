/**
 * Test helper (not a test file): a pool made as users make one (`picas init`, `picas push` of a JSONL
 * file), whose tokens append their id to a ledger file, and readers for what the tests assert on.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTOSCALER_DOC_ID, tokenState, type AutoscalerDoc, type CouchHttp, type TokenDoc } from '@picas/core';
import { fileLabel, freshDatabase, runCli, scratchDir, type TestDatabase } from '@picas/testkit';

export interface AutoscalePool {
  db: TestDatabase;
  dir: string;
  ledger: string;
  ids: string[];
}

/** `count` tokens of `seconds` each (declared as expected_seconds unless `declare` is false), plus `extra` token objects. */
export async function autoscalePool(metaUrl: string, count: number, seconds: number, extra: object[] = [], declare = true): Promise<AutoscalePool> {
  const db = await freshDatabase(fileLabel(metaUrl), { create: false });
  const dir = scratchDir('picas-autoscale-');
  const ledger = join(dir, 'ledger.txt');
  const ids = Array.from({ length: count }, (_, i) => `t${String(i).padStart(3, '0')}`);
  const lines = ids.map((id) => JSON.stringify({ id, input: `sleep ${seconds}; echo "$PICAS_TOKEN_ID" >> ${ledger}`, ...(declare ? { expected_seconds: seconds } : {}) }));
  writeFileSync(join(dir, 'tokens.jsonl'), [...lines, ...extra.map((t) => JSON.stringify(t))].join('\n') + '\n');
  for (const args of [['init'], ['push', 'tokens.jsonl']]) {
    const r = await runCli(args, { env: db.env, cwd: dir });
    assert.equal(r.exitCode, 0, r.stderr);
  }
  return { db, dir, ledger, ids };
}

/** The ids the tokens wrote, sorted (one line per run). */
export function ledgerIds(pool: AutoscalePool): string[] {
  return existsSync(pool.ledger) ? readFileSync(pool.ledger, 'utf8').trim().split('\n').filter(Boolean).sort() : [];
}

export async function stateDoc(pool: AutoscalePool): Promise<AutoscalerDoc> {
  return pool.db.couch.http.expectOk<AutoscalerDoc>({ path: pool.db.couch.http.docPath(AUTOSCALER_DOC_ID) }, 'reading the autoscaler state');
}

export async function tokenDocs(pool: AutoscalePool): Promise<TokenDoc[]> {
  const res = await pool.db.couch.http.expectOk<{ rows: Array<{ doc?: TokenDoc }> }>({ path: pool.db.couch.http.dbPath('/_all_docs'), query: { include_docs: true } }, 'reading tokens');
  return res.rows.map((r) => r.doc).filter((d): d is TokenDoc => !!d && d.type === 'token');
}

/** Every token done, each run exactly once. */
export async function assertDrainedOnce(pool: AutoscalePool): Promise<void> {
  const docs = await tokenDocs(pool);
  const notDone = docs.filter((d) => tokenState(d) !== 'done').map((d) => d._id);
  assert.deepEqual(notDone, [], 'every token done');
  assert.deepEqual(ledgerIds(pool), pool.ids, 'every token ran exactly once');
}

/**
 * Stores `state` as another branch of the autoscaler's state document, at revision `rev`, as replication
 * stores a write that reached only some replicas of a cluster (`_bulk_docs` with `new_edits: false`), so the
 * branches can be tested on every server. The branch with the later generation, then the larger hash, wins.
 */
export async function addStateBranch(http: CouchHttp, state: AutoscalerDoc, rev: string): Promise<void> {
  const { _rev: _ignored, _conflicts: _branches, ...body } = state as AutoscalerDoc & { _conflicts?: string[] };
  const res = await http.request({ method: 'POST', path: http.dbPath('/_bulk_docs'), body: { docs: [{ ...body, _rev: rev }], new_edits: false } });
  assert.ok(res.status === 201 || res.status === 202, `storing a branch of the state: ${res.status} ${JSON.stringify(res.body)}`);
}
