/**
 * `picas dashboard`'s web server: the page, its script and uPlot (from npm, served from here: no CDN),
 * a server-sent-event stream of the board's parts, and a token's whole log on demand.
 *
 * The browser never talks to CouchDB and never receives the CouchDB address's credentials or the password:
 * the server reads with the configured connection and sends only what the page shows. Bound to a loopback
 * address, requests must name it as their Host (no DNS rebinding); bound to any other address, every
 * request needs the random access token printed at start (in the URL once, then in an HttpOnly cookie).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isLoopbackHost, redactText, type ConnectionConfig, type Logger } from '@picas/core';
import { Board, type BoardUpdate } from './board.js';
import { ChangesFeed } from './changes-feed.js';
import { staticFiles } from './static-files.js';

export interface DashboardOptions {
  config: ConnectionConfig;
  host?: string;
  port?: number;
  log?: Logger;
  /** at least this long between two view reads (default 1000 ms) */
  readIntervalMs?: number;
}

export interface Dashboard {
  /** the address to open (with `?token=` when one is required) */
  url: string;
  host: string;
  port: number;
  /** set when bound to a non-loopback address */
  accessToken?: string;
  board: Board;
  feed: ChangesFeed;
  close(): Promise<void>;
}

const COOKIE = 'picas_dashboard_token';
const SSE_KEEPALIVE_MS = 15_000;

// the one loopback rule lives in core; re-exported because this package offered it first
export { isLoopbackHost };

/** The CouchDB address as the browser may see it: no user, no password. */
export function publicCouchUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '');
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const loopback = isLoopbackHost(host);
  const accessToken = loopback ? undefined : randomBytes(24).toString('base64url');
  const secrets = [options.config.password, options.config.username].filter((s): s is string => !!s);
  const files = staticFiles();
  const board = new Board(options.config, { publicUrl: publicCouchUrl(options.config.url), log: options.log, secrets, readIntervalMs: options.readIntervalMs });
  const feed = new ChangesFeed(board.couch.http, { onChanges: (ids) => board.changed(ids), onError: (err) => (err === undefined ? board.reach.answered() : board.reach.failed(err)), log: options.log });
  const clients = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let port = 0;

  const authorized = (req: IncomingMessage, url: URL): 'ok' | 'set-cookie' | 'bad-host' | 'no' => {
    if (!accessToken) {
      const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
      return isLoopbackHost(hostHeader) ? 'ok' : 'bad-host';
    }
    const fromQuery = url.searchParams.get('token');
    if (fromQuery && same(fromQuery, accessToken)) return 'set-cookie';
    const cookie = /(?:^|;\s*)picas_dashboard_token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    return cookie && same(cookie, accessToken) ? 'ok' : 'no';
  };

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store', ...extra });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const auth = authorized(req, url);
    if (auth === 'bad-host') return send(res, 403, 'text/plain; charset=utf-8', 'forbidden: this dashboard answers only to its loopback address\n');
    if (auth === 'no') return send(res, 401, 'text/plain; charset=utf-8', 'this dashboard needs its access token: open the address picas dashboard printed (…/?token=…)\n');
    if (auth === 'set-cookie') {
      // the token leaves the address bar: it lives on in an HttpOnly cookie
      url.searchParams.delete('token');
      return send(res, 303, 'text/plain; charset=utf-8', '', { location: url.pathname + url.search, 'set-cookie': `${COOKIE}=${accessToken}; HttpOnly; SameSite=Strict; Path=/` });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    const file = files.get(url.pathname === '/index.html' ? '/' : url.pathname);
    if (file) return send(res, 200, file.type, file.body);
    switch (url.pathname) {
      case '/api/events':
        return events(res);
      case '/api/board':
        return send(res, 200, 'application/json', JSON.stringify(Object.fromEntries(board.snapshot().map((u) => [u.event, u.data]))));
      case '/api/stats':
        return send(res, 200, 'application/json', JSON.stringify({ viewReads: board.gate.reads, changesRequests: feed.requests, clients: clients.size }));
      case '/api/log': {
        const id = url.searchParams.get('id') ?? '';
        const stream = url.searchParams.get('stream') === 'out' ? 'out' : 'err';
        if (!id) return send(res, 400, 'text/plain; charset=utf-8', 'missing ?id=\n');
        try {
          const text = await board.log(id, stream);
          if (text === undefined) return send(res, 404, 'text/plain; charset=utf-8', `no ${stream === 'err' ? 'stderr' : 'stdout'} log stored for ${id}\n`);
          return send(res, 200, 'text/plain; charset=utf-8', text);
        } catch (err) {
          return send(res, 502, 'text/plain; charset=utf-8', redactText(`${(err as Error).message}\n`, secrets));
        }
      }
      default:
        return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  };

  const events = (res: ServerResponse) => {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const write = (u: BoardUpdate) => res.write(`event: ${u.event}\ndata: ${JSON.stringify(u.data)}\n\n`);
    res.write('retry: 2000\n\n');
    for (const u of board.snapshot()) write(u);
    const unsubscribe = board.subscribe(write);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    clients.add(res);
    res.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
      clients.delete(res);
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      options.log?.error({ err }, 'dashboard: request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  try {
    await board.start();
  } catch (err) {
    // no database, or a refused login: say so and leave nothing running
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await board.stop();
    throw err;
  }
  feed.start();
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/${accessToken ? `?token=${accessToken}` : ''}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    accessToken,
    board,
    feed,
    close: () =>
      (closing ??= (async () => {
        for (const c of clients) c.end();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await feed.stop();
        await board.stop();
        await closed;
      })()),
  };
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
