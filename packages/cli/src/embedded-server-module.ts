/**
 * The embedded server's code (@picas/server: pouchdb, with its native leveldown), loaded when `picas server`
 * starts one. In the npm package it is the file picas-server.mjs beside the CLI's bundle, with pouchdb
 * installed as the package's dependency (scripts/bundle.mjs); the single file dist/picas.mjs has no
 * embedded server, and says so in one line.
 */
import { UsageError } from '@picas/core';

export async function loadEmbeddedServer(): Promise<typeof import('@picas/server')> {
  try {
    return await import('@picas/server');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new UsageError(
      `picas server needs the package install (npm install -g picas, see the README's Install section): this picas (${process.argv[1]}) has no embedded server; give the other commands a CouchDB with --url or PICAS_URL`,
      { cause: err },
    );
  }
}
