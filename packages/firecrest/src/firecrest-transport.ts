/**
 * The one request path of the FirecREST client: every API request goes through `send`, which
 *   - carries a fresh-enough access token (see auth.ts); on a 401 the token is renewed once and the
 *     request sent again (the server refused it before doing anything, so that is safe for any method);
 *   - has a time limit and accepts an AbortSignal;
 *   - waits out a 429 for as long as `Retry-After` says (seconds or an HTTP date), then sends again.
 * Idempotent requests (GET, DELETE, `mkdir -p`, upload) are also retried with jittered backoff on 5xx
 * and network errors. A job-creating POST is never sent twice unless the connection failed before
 * anything was sent: a lost answer might mean the job exists.
 */
import { request, type Dispatcher } from 'undici';
import { backoffDelay, networkCode, redactUrl, sleep } from '@picas/core';
import type { ClientCredentialsAuth } from './auth.js';
import { describeServerError, FirecrestAuthError, FirecrestError, FirecrestUnreachableError, parseErrorBody } from './errors.js';
import { retryAfterMs } from './retry-after.js';

export interface TransportOptions {
  /** per request; default 30 s */
  timeoutMs?: number;
  /** retries of an idempotent request on 5xx and network errors; default 4 */
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** the longest one request waits in total on 429 answers before giving up; default 5 min */
  maxRateLimitWaitMs?: number;
  /** called before each wait, e.g. to log it */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  request: string;
  reason: string;
  attempt: number;
  delayMs: number;
}

export interface SendRequest {
  method: Dispatcher.HttpMethod;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  body?: Buffer;
  contentType?: string;
  /** statuses that count as success */
  expect: readonly number[];
  /** safe to send again after a 5xx or a network error */
  idempotent: boolean;
  /** what we were doing, for error messages */
  what: string;
  raw?: boolean;
  signal?: AbortSignal;
}

export interface SendResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json?: any;
  bytes?: Buffer;
}

/** Connection errors that mean nothing reached the server, so even a POST may be sent again. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export class FirecrestTransport {
  /** HTTP requests sent to the API (not counting the token endpoint) */
  requests = 0;

  constructor(
    /** FIRECREST_URL without a trailing slash */
    private readonly url: string,
    private readonly auth: ClientCredentialsAuth,
    private readonly dispatcher: Dispatcher,
    private readonly options: TransportOptions = {},
  ) {}

  async send(req: SendRequest): Promise<SendResult> {
    const url = new URL(this.url + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const label = `${req.method} ${req.path}`;
    const retries = this.options.retries ?? 4;
    const maxRateLimitWait = this.options.maxRateLimitWaitMs ?? 300_000;
    let failures = 0;
    let rateLimitWaited = 0;
    let renewed = false;
    for (;;) {
      req.signal?.throwIfAborted();
      const token = await this.auth.accessToken(req.signal);
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: req.raw ? '*/*' : 'application/json' };
      let body: string | Buffer | undefined;
      if (req.json !== undefined) {
        body = JSON.stringify(req.json);
        headers['content-type'] = 'application/json';
      } else if (req.body) {
        body = req.body;
        headers['content-type'] = req.contentType ?? 'application/octet-stream';
      }
      const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
      this.requests++;
      let status: number;
      let resHeaders: Record<string, string | string[] | undefined>;
      let bytes: Buffer;
      try {
        const res = await request(url, { method: req.method, headers, body, signal, dispatcher: this.dispatcher });
        status = res.statusCode;
        resHeaders = res.headers;
        bytes = Buffer.from(await res.body.arrayBuffer());
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason;
        const code = timeout.aborted ? 'timeout' : (networkCode(err) ?? (err as Error).message);
        const notSent = NOT_SENT_CODES.has(code);
        if ((req.idempotent || notSent) && failures < retries) {
          const delayMs = backoffDelay(failures++, this.options.retryBaseMs ?? 500, this.options.retryMaxMs ?? 8_000);
          this.options.onRetry?.({ request: label, reason: code, attempt: failures, delayMs });
          await sleep(delayMs, req.signal);
          continue;
        }
        const unknown = !req.idempotent && !notSent;
        throw new FirecrestUnreachableError(
          `cannot reach FirecREST at ${redactUrl(this.url)} while ${req.what} (${code})` +
            (unknown ? ': the request may have reached the server; check the job list before submitting again' : ''),
          { request: label, outcomeUnknown: unknown },
          { cause: err },
        );
      }
      if (req.expect.includes(status)) {
        if (req.raw) return { status, headers: resHeaders, bytes };
        const text = bytes.toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch (err) {
          throw new FirecrestError(`FirecREST answered ${status} with a body that is not JSON while ${req.what}`, { status, request: label }, { cause: err });
        }
        return { status, headers: resHeaders, json };
      }
      const errorBody = parseErrorBody(bytes.toString('utf8'));
      const details = { status, serverMessage: errorBody.message, errorType: errorBody.errorType, causedBy: errorBody.causedBy, data: errorBody.data, request: label };
      if (status === 401 && !renewed) {
        // expired, revoked or "expires too soon": the server did nothing, so renew once and send again
        renewed = true;
        this.auth.invalidate(token);
        continue;
      }
      if (status === 401 || status === 403) {
        throw new FirecrestAuthError(`FirecREST refused ${req.what}: ${describeServerError(status, errorBody)}`, details);
      }
      if (status === 429) {
        const delayMs = Math.min(retryAfterMs(resHeaders['retry-after']) ?? backoffDelay(Math.min(failures, 6), 1000, 30_000), 120_000);
        if (rateLimitWaited + delayMs <= maxRateLimitWait) {
          rateLimitWaited += delayMs;
          this.options.onRetry?.({ request: label, reason: '429 rate limited', attempt: failures + 1, delayMs });
          await sleep(delayMs, req.signal);
          continue;
        }
        throw new FirecrestError(`FirecREST kept rate-limiting ${req.what} (429 for ${Math.round(rateLimitWaited / 1000)} s)`, details);
      }
      if (status >= 500 && req.idempotent && failures < retries) {
        const delayMs = backoffDelay(failures++, this.options.retryBaseMs ?? 500, this.options.retryMaxMs ?? 8_000);
        this.options.onRetry?.({ request: label, reason: `${status}`, attempt: failures, delayMs });
        await sleep(delayMs, req.signal);
        continue;
      }
      throw new FirecrestError(`FirecREST failed ${req.what}: ${describeServerError(status, errorBody)}`, details);
    }
  }
}
