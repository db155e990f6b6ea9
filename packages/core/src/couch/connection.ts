/**
 * One handle on a picas database: nano for document and database management, and CouchHttp (undici)
 * where the exact status code matters. Both send the same credentials; neither logs them.
 */
import Nano from 'nano';
import type { ConnectionConfig } from '../connection-config.js';
import { CouchHttp } from './http.js';
import { mapCouchError, type CouchErrorContext } from './errors.js';

export interface Couch {
  config: ConnectionConfig;
  nano: Nano.ServerScope;
  db: Nano.DocumentScope<any>;
  http: CouchHttp;
  /** nano requests sent (CouchHttp counts its own in `http.requests`) */
  nanoRequests(): number;
  /** maps any nano/fetch error to a picas error, naming what we were doing */
  fail(err: unknown, what?: string): never;
  close(): Promise<void>;
}

export function openCouch(config: ConnectionConfig, options: { connections?: number } = {}): Couch {
  let nanoCount = 0;
  const headers: Record<string, string> = {};
  if (config.username) {
    headers.Authorization = 'Basic ' + Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64');
  }
  const nano = Nano({
    url: config.url,
    headers,
    log: (entry: unknown) => {
      // nano calls log once with the (scrubbed) request, and once with the response
      if (entry && typeof entry === 'object' && 'method' in entry) nanoCount++;
    },
  } as Nano.Configuration);
  const http = new CouchHttp(config, options);
  const ctx: CouchErrorContext = { url: config.url, db: config.db, username: config.username };
  return {
    config,
    nano,
    db: nano.use(config.db),
    http,
    nanoRequests: () => nanoCount,
    fail(err: unknown, what?: string): never {
      throw mapCouchError(err, { ...ctx, what });
    },
    close: () => http.close(),
  };
}
