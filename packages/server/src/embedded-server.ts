/**
 * The embedded CouchDB-compatible server: express-pouchdb (the HTTP layer of pouchdb-server) on PouchDB,
 * with Fauxton at /_utils, bound to 127.0.0.1. A guard in front of it:
 *  - refuses the two requests known to crash the whole process (a `_changes` with `filter=`, and a
 *    database create/delete by a non-admin once an admin exists), answering as CouchDB would;
 *  - gives every database it creates a `_security` object so that only the admin may use it
 *    (CouchDB 3's default; pouchdb-server would leave new databases open).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import PouchDB from 'pouchdb';
import MemoryAdapter from 'pouchdb-adapter-memory';
import expressPouchdb from 'express-pouchdb';
import { viewFunctionsPlugin } from './view-functions.js';

export interface EmbeddedServerOptions {
  host?: string;
  /** 0 picks a free port */
  port?: number;
  /** where databases and config live (default `.picas/data`); ignored with inMemory */
  dataDir?: string;
  inMemory?: boolean;
  /** the admin to create (or check, when the data dir already has one) */
  admin?: { username: string; password: string };
}

export interface EmbeddedServer {
  url: string;
  port: number;
  fauxtonUrl: string;
  close(): Promise<void>;
}

let memoryPluginLoaded = false;
let viewPluginLoaded = false;

export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const host = options.host ?? '127.0.0.1';
  let tempDir: string | undefined;
  let Pouch: any;
  let configDir: string;
  if (!viewPluginLoaded) {
    // map functions compiled once in one sandbox, instead of a new vm context per document (view-functions.ts)
    PouchDB.plugin(viewFunctionsPlugin());
    viewPluginLoaded = true;
  }
  if (options.inMemory) {
    if (!memoryPluginLoaded) {
      PouchDB.plugin(MemoryAdapter);
      memoryPluginLoaded = true;
    }
    Pouch = PouchDB.defaults({ adapter: 'memory' });
    tempDir = mkdtempSync(join(tmpdir(), 'picas-server-'));
    configDir = tempDir;
  } else {
    const dataDir = resolve(options.dataDir ?? join('.picas', 'data'));
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    Pouch = PouchDB.defaults({ prefix: dataDir + '/' });
    configDir = dataDir;
  }
  const app = expressPouchdb(Pouch, {
    mode: 'fullCouchDB',
    configPath: join(configDir, 'config.json'),
    logPath: join(configDir, 'log.txt'),
  });
  // express-pouchdb logs every request at "info" to log.txt: a line per request, without end, on a busy
  // pool. Warnings and errors only, unless the config file (or /_config/log/level) says otherwise.
  app.couchConfig?.registerDefault('log', 'level', 'warning');
  app.couchLogger?.setLevel(app.couchConfig?.get('log', 'level'));

  const admin = options.admin;
  const sockets = new Set<Socket>();
  let selfUrl = '';
  const server: Server = createServer((req, res) => {
    guard(req, res, { admin, selfUrl: () => selfUrl })
      .then((handled) => {
        if (!handled) app(req, res);
      })
      .catch((err: Error) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'internal_error', reason: err.message });
      });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  } catch (err) {
    // the port is taken (or similar): leave nothing behind
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  selfUrl = `http://${host}:${port}`;

  const close = async () => {
    await new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sockets) s.destroy();
    });
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  };

  if (admin) {
    try {
      await ensureAdmin(selfUrl, admin);
    } catch (err) {
      await close();
      throw err;
    }
  }
  return { url: selfUrl, port, fauxtonUrl: `${selfUrl}/_utils/`, close };
}

async function ensureAdmin(base: string, admin: { username: string; password: string }): Promise<void> {
  const auth = 'Basic ' + Buffer.from(`${admin.username}:${admin.password}`).toString('base64');
  const roles = async (headers: Record<string, string>) => {
    const res = await fetch(`${base}/_session`, { headers });
    const body = (await res.json().catch(() => ({}))) as { userCtx?: { roles?: string[] } };
    return res.ok ? (body.userCtx?.roles ?? []) : [];
  };
  if ((await roles({})).includes('_admin')) {
    // admin party: no admin exists yet, so create ours
    const put = await fetch(`${base}/_config/admins/${encodeURIComponent(admin.username)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(admin.password),
    });
    if (!put.ok) throw new Error(`could not create the admin user: HTTP ${put.status}`);
    return;
  }
  if ((await roles({ authorization: auth })).includes('_admin')) return;
  throw new Error(`the data directory already has a different admin: user '${admin.username}' cannot log in`);
}

interface GuardContext {
  admin?: { username: string; password: string };
  selfUrl(): string;
}

const DB_PATH = /^\/([a-z][a-z0-9_$()+%-]*)\/?$/;

async function guard(req: IncomingMessage, res: ServerResponse, ctx: GuardContext): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://x');
  // 1. _changes with filter= crashes express-pouchdb on a non-empty database
  if (/\/_changes$/.test(url.pathname) && url.searchParams.has('filter')) {
    sendJson(res, 400, { error: 'bad_request', reason: 'filtered _changes feeds are not supported by the embedded server' });
    return true;
  }
  const dbMatch = DB_PATH.exec(url.pathname);
  if (!dbMatch || (req.method !== 'PUT' && req.method !== 'DELETE') || !ctx.admin) return false;
  // 2. a database create/delete by a non-admin crashes it once an admin exists: answer as CouchDB does
  if (!(await isAdmin(req, ctx))) {
    sendJson(res, 401, { error: 'unauthorized', reason: 'You are not a server admin.' });
    return true;
  }
  if (req.method === 'PUT') {
    // 3. secure what we create: only the admin may read or write (CouchDB 3's default for new databases)
    res.on('finish', () => {
      if (res.statusCode === 201) void secureDatabase(ctx, dbMatch[1]!);
    });
  }
  return false;
}

async function isAdmin(req: IncomingMessage, ctx: GuardContext): Promise<boolean> {
  const headers: Record<string, string> = {};
  if (req.headers.authorization) headers.authorization = req.headers.authorization;
  if (req.headers.cookie) headers.cookie = req.headers.cookie;
  if (!headers.authorization && !headers.cookie) return false;
  const body = await new Promise<{ userCtx?: { roles?: string[] } }>((resolveBody) => {
    const r = httpRequest(`${ctx.selfUrl()}/_session`, { headers }, (resp) => {
      let data = '';
      resp.setEncoding('utf8');
      resp.on('data', (c: string) => (data += c));
      resp.on('end', () => {
        try {
          resolveBody(JSON.parse(data));
        } catch {
          resolveBody({});
        }
      });
    });
    r.on('error', () => resolveBody({}));
    r.end();
  });
  return body.userCtx?.roles?.includes('_admin') === true;
}

async function secureDatabase(ctx: GuardContext, dbName: string): Promise<void> {
  const admin = ctx.admin!;
  const auth = 'Basic ' + Buffer.from(`${admin.username}:${admin.password}`).toString('base64');
  try {
    await fetch(`${ctx.selfUrl()}/${dbName}/_security`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ admins: { names: [admin.username], roles: [] }, members: { names: [admin.username], roles: ['_admin'] } }),
    });
  } catch {
    // best effort: the database still exists and the admin can set _security later
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
