/**
 * One handle on a picas database: nano for document and database management, and CouchHttp where the
 * exact status code matters (and for the worker's hot path). Both send the same credentials; neither logs
 * them. nano is loaded on first use, so a pilot that never needs it does not carry it.
 */
import { createRequire } from 'node:module';
import type Nano from 'nano';
import type { ConnectionConfig } from '../connection-config.js';
import { CouchHttp } from './http.js';
import { mapCouchError, type CouchErrorContext } from './errors.js';

export interface Couch {
  config: ConnectionConfig;
  readonly nano: Nano.ServerScope;
  readonly db: Nano.DocumentScope<any>;
  http: CouchHttp;
  /** nano requests sent (CouchHttp counts its own in `http.requests`) */
  nanoRequests(): number;
  /** maps any nano/fetch error to a picas error, naming what we were doing */
  fail(err: unknown, what?: string): never;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

export function openCouch(config: ConnectionConfig, options: { connections?: number } = {}): Couch {
  let nanoCount = 0;
  let server: Nano.ServerScope | undefined;
  const nano = (): Nano.ServerScope => {
    if (server) return server;
    const headers: Record<string, string> = {};
    if (config.username) {
      headers.Authorization = 'Basic ' + Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64');
    }
    const createNano = require('nano') as typeof Nano;
    server = createNano({
      url: config.url,
      headers,
      log: (entry: unknown) => {
        // nano calls log once with the (scrubbed) request, and once with the response
        if (entry && typeof entry === 'object' && 'method' in entry) nanoCount++;
      },
    } as Nano.Configuration);
    return server;
  };
  const http = new CouchHttp(config, options);
  const ctx: CouchErrorContext = { url: config.url, db: config.db, username: config.username, credentialSources: config.credentialSources };
  return {
    config,
    get nano() {
      return nano();
    },
    get db() {
      return nano().use(config.db);
    },
    http,
    nanoRequests: () => nanoCount,
    fail(err: unknown, what?: string): never {
      throw mapCouchError(err, { ...ctx, what });
    },
    close: () => http.close(),
  };
}
