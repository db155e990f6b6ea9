/**
 * A small CouchDB HTTP client on undici, for the operations where the status code itself is the answer
 * (a claim is won only on 201, never on 202) and for the worker's hot path: keep-alive connections,
 * per-request timeouts, AbortSignal, and a request counter the benchmark reads.
 *
 * It never throws for an HTTP status: callers look at `status`. Network faults throw UnreachableError.
 * Use `expectOk` to turn a non-2xx answer into the matching picas error.
 */
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import type { ConnectionConfig } from '../connection-config.js';
import { errorForStatus, networkCode, unreachable, type CouchErrorContext } from './errors.js';

export interface CouchRequest {
  method?: Dispatcher.HttpMethod;
  /** path below the server root, e.g. `/picas/token_1`; use `docPath` to build it */
  path: string;
  query?: Record<string, string | number | boolean | undefined | unknown[] | object>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** overall time limit for this request (ms); default 60 s */
  timeoutMs?: number;
  /** return the raw bytes instead of parsed JSON */
  raw?: boolean;
}

export interface CouchResponse<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

const JSON_QUERY_KEYS = new Set(['key', 'keys', 'startkey', 'endkey', 'start_key', 'end_key']);

export class CouchHttp {
  readonly baseUrl: string;
  readonly db: string;
  /** requests sent since creation, for request-per-token accounting */
  requests = 0;
  private readonly dispatcher: Agent;
  private readonly authHeader?: string;
  private readonly ctx: CouchErrorContext;

  constructor(config: ConnectionConfig, options: { connections?: number } = {}) {
    this.baseUrl = config.url.replace(/\/+$/, '');
    this.db = config.db;
    this.dispatcher = new Agent({ connections: options.connections ?? 16, keepAliveTimeout: 10_000, pipelining: 1 });
    if (config.username) {
      this.authHeader = 'Basic ' + Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64');
    }
    this.ctx = { url: this.baseUrl, db: config.db, username: config.username };
  }

  /** `/db/<id>` with the id encoded, keeping `_design/` and `_local/` prefixes readable. */
  docPath(id: string, attachment?: string): string {
    const m = /^(_design|_local)\/(.+)$/.exec(id);
    const idPart = m ? `${m[1]}/${encodeURIComponent(m[2]!)}` : encodeURIComponent(id);
    return `/${encodeURIComponent(this.db)}/${idPart}${attachment ? `/${encodeURIComponent(attachment)}` : ''}`;
  }

  dbPath(suffix = ''): string {
    return `/${encodeURIComponent(this.db)}${suffix}`;
  }

  async request<T = any>(req: CouchRequest): Promise<CouchResponse<T>> {
    const url = new URL(this.baseUrl + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v === undefined) continue;
      url.searchParams.set(k, JSON_QUERY_KEYS.has(k) || typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (this.authHeader) headers.authorization = this.authHeader;
    let body: string | Buffer | undefined;
    if (req.body !== undefined) {
      body = Buffer.isBuffer(req.body) ? req.body : JSON.stringify(req.body);
      headers['content-type'] ??= 'application/json';
    }
    const timeout = AbortSignal.timeout(req.timeoutMs ?? 60_000);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    this.requests++;
    let res: Dispatcher.ResponseData;
    try {
      res = await undiciRequest(url, { method: req.method ?? 'GET', headers, body, signal, dispatcher: this.dispatcher });
    } catch (err) {
      if (req.signal?.aborted) throw err;
      if (timeout.aborted) throw unreachable(this.ctx, 'timeout', err);
      throw unreachable(this.ctx, networkCode(err) ?? (err as Error).message, err);
    }
    let parsed: unknown;
    try {
      if (req.raw && res.statusCode < 300) {
        parsed = Buffer.from(await res.body.arrayBuffer());
      } else {
        const text = await res.body.text();
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = { error: 'bad_json', reason: text.slice(0, 200) };
        }
      }
    } catch (err) {
      throw unreachable(this.ctx, networkCode(err) ?? 'response aborted', err);
    }
    return { status: res.statusCode, body: parsed as T, headers: res.headers };
  }

  /** Sends the request and returns the body on 2xx; any other status becomes the matching picas error. */
  async expectOk<T = any>(req: CouchRequest, what?: string): Promise<T> {
    const res = await this.request<T>(req);
    if (res.status >= 200 && res.status < 300) return res.body;
    throw errorForStatus(res.status, res.body, { ...this.ctx, what }, Object.assign(new Error(`HTTP ${res.status}`), { statusCode: res.status, body: res.body }));
  }

  errorFor(res: CouchResponse, what?: string) {
    return errorForStatus(res.status, res.body, { ...this.ctx, what }, Object.assign(new Error(`HTTP ${res.status}`), { statusCode: res.status, body: res.body }));
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
