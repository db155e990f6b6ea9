/**
 * A small CouchDB HTTP client for the operations where the status code itself is the answer (a claim is
 * won only on 201, never on 202) and for the worker's hot path: keep-alive connections, per-request
 * timeouts, AbortSignal, and a request counter the benchmark reads.
 *
 * It is built on node:http/https with a keep-alive agent rather than undici: the worker stays small
 * (undici's module alone adds ~19 MB RSS to every pilot, and the pilot's idle RSS is a target), and the
 * single-node server is the bottleneck, not the client. (nano, for the CLI, uses Node's built-in fetch;
 * the FirecREST client uses undici.)
 *
 * It never throws for an HTTP status: callers look at `status`. Network faults throw UnreachableError.
 * Use `expectOk` to turn a non-2xx answer into the matching picas error.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ConnectionConfig } from '../connection-config.js';
import { errorForStatus, isForeignAnswer, networkCode, notCouchDb, unreachable, type CouchErrorContext } from './errors.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE' | 'COPY';

export interface CouchRequest {
  method?: HttpMethod;
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
  headers: IncomingHttpHeaders;
}

const JSON_QUERY_KEYS = new Set(['key', 'keys', 'startkey', 'endkey', 'start_key', 'end_key']);

export class CouchHttp {
  readonly baseUrl: string;
  readonly db: string;
  /** requests sent since creation, for request-per-token accounting */
  requests = 0;
  /** the most connections open at once (requests beyond wait for one) */
  readonly connections: number;
  private readonly agent: HttpAgent;
  private readonly secure: boolean;
  private readonly authHeader?: string;
  private readonly ctx: CouchErrorContext;

  constructor(config: ConnectionConfig, options: { connections?: number } = {}) {
    this.baseUrl = config.url.replace(/\/+$/, '');
    this.db = config.db;
    this.secure = this.baseUrl.startsWith('https:');
    this.connections = options.connections ?? 16;
    const agentOptions = { keepAlive: true, keepAliveMsecs: 10_000, maxSockets: this.connections, maxFreeSockets: this.connections };
    this.agent = this.secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    if (config.username) {
      this.authHeader = 'Basic ' + Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64');
    }
    this.ctx = { url: this.baseUrl, db: config.db, username: config.username, credentialSources: config.credentialSources };
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
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    this.requests++;
    let res: IncomingMessage;
    let data: Buffer;
    try {
      ({ res, data } = await this.send(url, req.method ?? 'GET', headers, body, signal));
    } catch (err) {
      if (req.signal?.aborted) throw err;
      if (timeout.aborted) throw unreachable(this.ctx, 'timeout', err);
      throw unreachable(this.ctx, networkCode(err) ?? (err as Error).message, err);
    }
    const status = res.statusCode ?? 0;
    let parsed: unknown;
    if (req.raw && status < 300) {
      parsed = data;
    } else {
      const text = data.toString('utf8');
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (req.method !== 'HEAD' && isForeignAnswer(status, text, parsed)) {
        throw notCouchDb(this.ctx, { status, contentType: res.headers['content-type'], text }, Object.assign(new Error(`HTTP ${status}`), { statusCode: status }));
      }
      if (parsed === undefined && text) parsed = { error: 'bad_json', reason: text.slice(0, 200) };
    }
    return { status, body: parsed as T, headers: res.headers };
  }

  private send(url: URL, method: string, headers: Record<string, string>, body: string | Buffer | undefined, signal: AbortSignal): Promise<{ res: IncomingMessage; data: Buffer }> {
    return new Promise((resolve, reject) => {
      const send = this.secure ? httpsRequest : httpRequest;
      const request = send(url, { method, headers, agent: this.agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ res, data: Buffer.concat(chunks) }));
        res.on('error', reject);
        res.on('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
      });
      request.on('error', reject);
      request.end(body);
    });
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
    this.agent.destroy();
  }
}
