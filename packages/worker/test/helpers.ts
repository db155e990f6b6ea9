/**
 * Shared set-up for the worker tests: a fresh database with the design documents (as `picas init`
 * installs them), tokens inserted with `_bulk_docs`, conflicting revisions written with `new_edits:false`,
 * and a small HTTP proxy in front of the server for fault injection.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { after } from 'node:test';
import { CLAIM_DESIGN, MONITOR_DESIGN, PICAS_DESIGN, newToken, type TokenDoc, type Couch } from '@picas/core';
import { freshDatabase, logLines, runWorker, scratchDir, testServer, type TestDatabase, type RunOptions } from '@picas/testkit';

// start (or find) the test server at file level, so that a file run on its own keeps it for all its tests
await testServer();

export async function poolDatabase(label: string): Promise<TestDatabase> {
  const db = await freshDatabase(label);
  for (const design of [MONITOR_DESIGN, CLAIM_DESIGN, PICAS_DESIGN]) {
    await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath(design._id), body: design }, `installing ${design._id}`);
  }
  return db;
}

export async function pushTokens(couch: Couch, tokens: Array<TokenDoc | [string, unknown, Record<string, unknown>?]>): Promise<void> {
  const docs = tokens.map((t) => (Array.isArray(t) ? newToken(t[0], t[1], t[2] ?? {}) : t));
  for (let i = 0; i < docs.length; i += 5000) {
    const rows = await couch.http.expectOk<Array<{ ok?: boolean; error?: string }>>({ method: 'POST', path: couch.http.dbPath('/_bulk_docs'), body: { docs: docs.slice(i, i + 5000) } });
    const bad = rows.filter((r) => !r.ok);
    if (bad.length) throw new Error(`push failed: ${JSON.stringify(bad.slice(0, 3))}`);
  }
}

export async function getToken(couch: Couch, id: string, query: Record<string, string | boolean> = { conflicts: true }): Promise<TokenDoc> {
  return couch.http.expectOk<TokenDoc>({ path: couch.http.docPath(id), query }, `reading ${id}`);
}

export async function putToken(couch: Couch, doc: TokenDoc): Promise<string> {
  const { _conflicts, ...body } = doc;
  void _conflicts;
  const r = await couch.http.expectOk<{ rev: string }>({ method: 'PUT', path: couch.http.docPath(doc._id), body }, `writing ${doc._id}`);
  return r.rev;
}

export async function leaves(couch: Couch, id: string): Promise<TokenDoc[]> {
  const body = await couch.http.expectOk<Array<{ ok?: TokenDoc }>>({ path: couch.http.docPath(id), query: { open_revs: 'all' }, headers: { accept: 'application/json' } });
  return body.flatMap((e) => (e.ok && !e.ok._deleted ? [e.ok] : []));
}

/**
 * Writes a sibling of the token's current revision with `new_edits:false`, as a cluster split would:
 * afterwards the token has two leaves. Returns the new leaf's rev. Of two leaves of the same length,
 * CouchDB's winner is the one with the greater hash: pass `hash` to choose.
 */
export async function injectConflict(couch: Couch, id: string, change: (doc: TokenDoc) => TokenDoc = (d) => d, hash = randomBytes(16).toString('hex')): Promise<string> {
  const current = await couch.http.expectOk<TokenDoc & { _revisions: { start: number; ids: string[] } }>({ path: couch.http.docPath(id), query: { revs: true } });
  const { _revisions, _attachments, ...doc } = current;
  void _attachments; // stubs of the current revision cannot be carried to a sibling
  const ids = [hash, ..._revisions.ids.slice(1)];
  const rev = `${_revisions.start}-${hash}`;
  const body = { ...change(doc as TokenDoc), _id: id, _rev: rev, _revisions: { start: _revisions.start, ids } };
  await couch.http.expectOk({ method: 'POST', path: couch.http.dbPath('/_bulk_docs'), body: { docs: [body], new_edits: false } }, 'writing a conflicting revision');
  return rev;
}

export async function monitorCounts(couch: Couch): Promise<Record<string, number>> {
  const body = await couch.http.expectOk<{ rows: Array<{ key: string; value: number }> }>({ path: couch.http.dbPath('/_design/Monitor/_view/overview_total'), query: { group: true } });
  const out: Record<string, number> = { todo: 0, locked: 0, done: 0, error: 0 };
  for (const r of body.rows) out[r.key] = r.value;
  return out;
}

/** A temporary directory, removed after the test (or file) that made it. */
export function tempDir(prefix = 'picas-worker-test-'): string {
  return scratchDir(prefix);
}

export function readPid(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const n = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export { processAlive as alive } from '@picas/testkit';

/** Kills a process group left by a test (e.g. the orphan of a kill -9'd pilot). */
export function killGroup(pgid: number | undefined): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** The worker's summary log line (the JSON twin of the stdout summary). */
export function summaryOf(stderr: string): Record<string, any> {
  const line = logLines(stderr).find((l) => l.summary === true);
  if (!line) throw new Error(`no summary log line in:\n${stderr.slice(-3000)}`);
  return line;
}

/** Runs a worker against the test database; JSON logs on stderr. */
export function worker(db: TestDatabase, args: readonly string[] = [], options: RunOptions = {}) {
  return runWorker(args, { ...options, env: { ...db.env, ...options.env } });
}

export interface ProxyRequest {
  method: string;
  url: string;
  status: number;
}

export interface TestProxy {
  url: string;
  requests: ProxyRequest[];
  /** stop accepting connections (and drop open ones): the server looks down */
  pause(): Promise<void>;
  /** listen again on the same port */
  resume(): Promise<void>;
  close(): Promise<void>;
}

export interface ProxyRules {
  /** answer at once with this JSON body and status, without forwarding (e.g. a cluster's `/_membership`) */
  respond?: (req: IncomingMessage) => { status: number; body: unknown } | undefined;
  /** answer at once with this status (and a CouchDB-style error body), without forwarding */
  reject?: (req: IncomingMessage) => number | undefined;
  /** rewrite the status of an answer (e.g. 201 → 202 for claim PUTs) */
  status?: (req: IncomingMessage, status: number) => number;
  /** rewrite a JSON answer body */
  body?: (req: IncomingMessage, body: unknown) => unknown;
  /** forward the request, then drop the connection instead of answering: the server applied it, the answer is lost */
  dropAnswer?: (req: IncomingMessage) => boolean;
}

/** A tiny HTTP proxy (node:http) in front of the test server, for fault injection. Closed after the file. */
export async function startProxy(target: string, rules: ProxyRules = {}): Promise<TestProxy> {
  const upstream = new URL(target);
  const requests: ProxyRequest[] = [];
  const sockets = new Set<Socket>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const answer = rules.respond?.(req);
    if (answer) {
      requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', status: answer.status });
      req.resume();
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
      return;
    }
    const rejected = rules.reject?.(req);
    if (rejected !== undefined) {
      requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', status: rejected });
      req.resume();
      res.writeHead(rejected, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: 'rejected_by_test_proxy', reason: `status ${rejected}` }));
      return;
    }
    const up = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          if (rules.dropAnswer?.(req)) {
            requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', status: 0 });
            req.socket.destroy();
            return;
          }
          let payload = Buffer.concat(chunks);
          let status = upRes.statusCode ?? 502;
          status = rules.status?.(req, status) ?? status;
          const headers = { ...upRes.headers };
          if (rules.body && String(headers['content-type'] ?? '').includes('json')) {
            try {
              payload = Buffer.from(JSON.stringify(rules.body(req, JSON.parse(payload.toString('utf8')))));
            } catch {
              // not JSON after all
            }
          }
          delete headers['transfer-encoding'];
          headers['content-length'] = String(payload.length);
          requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', status });
          res.writeHead(status, headers);
          res.end(payload);
        });
      },
    );
    up.on('error', () => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'bad_gateway', reason: 'upstream failed' }));
    });
    req.pipe(up);
  };
  let server: Server = createServer(handler);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  let closed = false;
  const proxy: TestProxy = {
    url: `http://127.0.0.1:${port}`,
    requests,
    pause: stop,
    async resume() {
      server = createServer(handler);
      await listen(port);
    },
    async close() {
      if (closed) return;
      closed = true;
      await stop();
    },
  };
  after(() => proxy.close());
  return proxy;
}
