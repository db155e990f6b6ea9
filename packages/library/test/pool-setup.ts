/**
 * Shared set-up for the library tests: a fresh database made as a user makes it (`picas init`), and the
 * library's connection options pointing at it (its own cwd and env, so no `.env` or config file of the
 * machine running the tests leaks in).
 */
import assert from 'node:assert/strict';
import { freshDatabase, runCli, scratchDir, type TestDatabase } from '@picas/testkit';
import type { ConnectOptions } from '../src/index.js';

export interface TestPool {
  db: TestDatabase;
  connection: ConnectOptions;
}

export async function initPool(label: string): Promise<TestPool> {
  const db = await freshDatabase(label);
  const init = await runCli(['init'], { env: db.env });
  assert.equal(init.exitCode, 0, init.stderr);
  return { db, connection: { env: db.env, cwd: scratchDir('picas-library-cwd-') } };
}

/** A token as stored, read straight from the database. */
export async function readDoc(db: TestDatabase, id: string): Promise<Record<string, any>> {
  return db.couch.http.expectOk<Record<string, any>>({ path: db.couch.http.docPath(id) }, `reading ${id}`);
}

/** An attachment's text. */
export async function attachmentText(db: TestDatabase, id: string, name: string): Promise<string> {
  const res = await db.couch.http.request<Buffer>({ path: `${db.couch.http.docPath(id)}/${encodeURIComponent(name)}`, raw: true });
  assert.equal(res.status, 200, `reading ${name} of ${id}`);
  return res.body.toString('utf8');
}
