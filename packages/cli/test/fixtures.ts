/**
 * Test fixtures shared by the CLI tests: PiCaS' design document exactly as Python PiCaS stores it
 * (written out literally, not imported from @picas/core), tokens in each state, and a temp dir helper.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Couch } from '@picas/core';
import { scratchDir } from '@picas/testkit';

/**
 * `_design/Monitor` as picasclient's examples/create_views.py leaves it in CouchDB. couchdb-python's
 * ViewDefinition stores `dedent(code.lstrip('\n'))`, so each function starts at `function`.
 */
export const PYTHON_PICAS_VIEWS = {
  todo: {
    map: 'function(doc) {\n   if(doc.type == "token") {\n    if(doc.lock == 0 && doc.done == 0) {\n      emit(doc._id, doc._id);\n    }\n  }\n}\n',
  },
  locked: {
    map: 'function(doc) {\n   if(doc.type == "token") {\n    if(doc.lock > 0 && doc.done == 0) {\n      emit(doc._id, doc._id);\n    }\n  }\n}\n',
  },
  done: {
    map: 'function(doc) {\n   if(doc.type == "token") {\n    if(doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) == 0) {\n      emit(doc._id, doc._id);\n    }\n  }\n}\n',
  },
  error: {
    map: 'function(doc) {\n   if(doc.type == "token") {\n    if(doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) != 0) {\n      emit(doc._id, doc._id);\n    }\n  }\n}\n',
  },
  overview_total: {
    map:
      'function(doc) {\n' +
      '   if(doc.type == "token") {\n' +
      '       if (doc.lock == 0 && doc.done == 0){\n' +
      "          emit('todo', 1);\n" +
      '       }\n' +
      '       if(doc.lock > 0 && doc.done == 0) {\n' +
      "          emit('locked', 1);\n" +
      '       }\n' +
      '       if(doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) == 0) {\n' +
      "          emit('done', 1);\n" +
      '       }\n' +
      '       if(doc.lock > 0 && doc.done > 0 && parseInt(doc.exit_code) != 0) {\n' +
      "          emit('error', 1);\n" +
      '       }\n' +
      '   }\n' +
      '}\n',
    reduce: 'function (key, values, rereduce) {\n   return sum(values);\n}\n',
  },
} as const;

/** A token as Python PiCaS writes it (push_tokens.py + Task base fields), in a given state. */
export function pythonPicasToken(id: string, state: 'todo' | 'locked' | 'done' | 'error', input = `echo ${id}`): Record<string, unknown> {
  const base = { _id: id, type: 'token', lock: 0, done: 0, hostname: '', scrub_count: 0, input, output: {}, uploads: {}, error: [] as unknown[] };
  const t = 1_700_000_000;
  switch (state) {
    case 'todo':
      return base;
    case 'locked':
      return { ...base, lock: t, hostname: 'node1', slurm_job_id: '42_1' };
    case 'done':
      return { ...base, lock: t, done: t + 5, hostname: 'node1', exit_code: 0 };
    case 'error':
      return { ...base, lock: t, done: t + 5, hostname: 'node1', exit_code: 3, error: [{ time: t + 5, message: 'exit 3' }] };
  }
}

/** Writes documents directly, as another client would. */
export async function putDocs(couch: Couch, docs: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const rows = await couch.http.expectOk<Array<{ error?: string; id: string }>>({ method: 'POST', path: couch.http.dbPath('/_bulk_docs'), body: { docs } });
  const failed = rows.filter((r) => r.error);
  if (failed.length) throw new Error(`could not write fixtures: ${JSON.stringify(failed)}`);
}

export async function getDoc<T = Record<string, any>>(couch: Couch, id: string): Promise<T> {
  return couch.http.expectOk<T>({ path: couch.http.docPath(id) });
}

/** A temp directory with the given files, removed after the test file. */
export function tempDir(files: Record<string, string | Uint8Array> = {}): string {
  const dir = scratchDir('picas-cli-test-');
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
