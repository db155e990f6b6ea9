/**
 * The bench's own CouchDB client (plain JSON calls, one keep-alive pool) and the environment that points
 * `picas` and `picas-worker` at a server's database: shared by the main bench and the scale bench.
 */
import { Agent, request } from 'undici';

export interface ServerAddress {
  url: string;
  username?: string;
  password?: string;
}

export class Http {
  readonly agent: Agent;
  readonly auth?: string;
  /** `timeoutMs`: how long a call may wait for its answer (a view of a million tokens builds for a long time) */
  constructor(readonly base: string, user?: string, pass?: string, options: { timeoutMs?: number } = {}) {
    const timeouts = options.timeoutMs ? { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs } : {};
    this.agent = new Agent({ connections: 32, keepAliveTimeout: 10_000, ...timeouts });
    if (user) this.auth = 'Basic ' + Buffer.from(`${user}:${pass ?? ''}`).toString('base64');
  }
  async call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.auth) headers.authorization = this.auth;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), dispatcher: this.agent });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
  }
  close(): Promise<void> {
    return this.agent.close();
  }
}

/** The environment of a `picas` or `picas-worker` process working on `db` of `server`. */
export function picasEnv(server: ServerAddress, db: string): Record<string, string> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), PICAS_URL: server.url, PICAS_DB: db, PICAS_LOG_LEVEL: 'warn' };
  if (server.username) {
    env.PICAS_USERNAME = server.username;
    env.PICAS_PASSWORD = server.password ?? '';
  }
  return env;
}
