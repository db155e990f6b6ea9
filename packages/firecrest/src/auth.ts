/**
 * OIDC client credentials for FirecREST: `POST AUTH_TOKEN_URL` with a form-encoded
 * `grant_type=client_credentials&client_id=…&client_secret=…` (or HTTP Basic, which some sites want).
 *
 * The access token is cached and renewed before it gets close to its expiry: 60 s before, or after a fifth
 * of its lifetime for tokens that live less than 75 s (servers refuse tokens with less than 30 s left).
 * Concurrent callers share one renewal. `invalidate()` drops a token the server refused, so that the
 * next call renews it (the client does this once per request on a 401).
 *
 * Errors name AUTH_TOKEN_URL and what the identity server said; they never contain the secret.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { backoffDelay, networkCode, redactText, redactUrl, sleep } from '@picas/core';
import { FirecrestAuthError, FirecrestError, FirecrestUnreachableError } from './errors.js';
import { retryAfterMs } from './retry-after.js';

export interface ClientCredentials {
  /** AUTH_TOKEN_URL */
  tokenUrl: string;
  /** FIRECREST_CLIENT_ID */
  clientId: string;
  /** FIRECREST_CLIENT_SECRET */
  clientSecret: string;
  /** send the credentials as HTTP Basic instead of form fields */
  basicAuth?: boolean;
}

export interface ClientCredentialsAuthOptions extends ClientCredentials {
  /** shared with the API client; the auth owns (and closes) its own when not given */
  dispatcher?: Dispatcher;
  /** per token request; default 30 s */
  timeoutMs?: number;
  /** renew this long before expiry; default 60 s */
  renewBeforeMs?: number;
  /** the clock (ms since epoch); tests move it forward to check renewal */
  clock?: () => number;
}

interface CachedToken {
  value: string;
  expiresAt: number;
  renewAt: number;
}

const DEFAULT_LIFETIME_S = 300;
const TOKEN_ATTEMPTS = 4;

export class ClientCredentialsAuth {
  /** access tokens fetched so far (for tests and diagnostics) */
  tokensFetched = 0;
  private current?: CachedToken;
  private pending?: Promise<CachedToken>;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly clock: () => number;

  constructor(private readonly options: ClientCredentialsAuthOptions) {
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher = options.dispatcher ?? new Agent({ keepAliveTimeout: 10_000 });
    this.clock = options.clock ?? Date.now;
  }

  /** A valid access token: the cached one, or a new one when it is close to expiry or was refused. */
  async accessToken(signal?: AbortSignal): Promise<string> {
    const cached = this.current;
    if (cached && this.clock() < cached.renewAt) return cached.value;
    this.pending ??= this.fetchToken(signal).finally(() => {
      this.pending = undefined;
    });
    const fresh = await this.pending;
    this.current = fresh;
    return fresh.value;
  }

  /** Forget `token` (the server refused it) so that the next `accessToken()` fetches a new one. */
  invalidate(token: string): void {
    if (this.current?.value === token) this.current = undefined;
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private describeUrl(): string {
    return `AUTH_TOKEN_URL ${redactUrl(this.options.tokenUrl)}`;
  }

  private async fetchToken(signal?: AbortSignal): Promise<CachedToken> {
    const { tokenUrl, clientId, clientSecret } = this.options;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.options.basicAuth) {
      headers.authorization = 'Basic ' + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    } else {
      form.set('client_id', clientId);
      form.set('client_secret', clientSecret);
    }
    const body = form.toString();
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
      const requestSignal = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let status: number;
      let text: string;
      let retryAfter: string | string[] | undefined;
      try {
        const res = await request(tokenUrl, { method: 'POST', headers, body, signal: requestSignal, dispatcher: this.dispatcher });
        status = res.statusCode;
        retryAfter = res.headers['retry-after'];
        text = await res.body.text();
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const code = timeout.aborted ? 'timeout' : (networkCode(err) ?? (err as Error).message);
        if (attempt + 1 < TOKEN_ATTEMPTS) {
          await sleep(backoffDelay(attempt, 500, 5_000), signal);
          continue;
        }
        throw new FirecrestUnreachableError(`cannot reach ${this.describeUrl()} to log in to FirecREST (${code})`, { request: 'POST AUTH_TOKEN_URL' }, { cause: err });
      }
      if (status === 200) return this.accept(text);
      if ((status === 429 || status >= 500) && attempt + 1 < TOKEN_ATTEMPTS) {
        await sleep(Math.min(60_000, retryAfterMs(retryAfter) ?? backoffDelay(attempt, 500, 5_000)), signal);
        continue;
      }
      const detail = this.oidcError(text);
      if (status === 400 || status === 401 || status === 403) {
        throw new FirecrestAuthError(
          `FirecREST login failed at ${this.describeUrl()} (${status}${detail ? `: ${detail}` : ''}); check FIRECREST_CLIENT_ID, FIRECREST_CLIENT_SECRET and AUTH_TOKEN_URL`,
          { status, serverMessage: detail, request: 'POST AUTH_TOKEN_URL' },
        );
      }
      throw new FirecrestError(`${this.describeUrl()} answered ${status}${detail ? `: ${detail}` : ''}`, { status, serverMessage: detail, request: 'POST AUTH_TOKEN_URL' });
    }
  }

  private accept(text: string): CachedToken {
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch (err) {
      throw new FirecrestError(`${this.describeUrl()} answered 200 without JSON`, { status: 200, request: 'POST AUTH_TOKEN_URL' }, { cause: err });
    }
    if (typeof parsed.access_token !== 'string' || parsed.access_token === '') {
      throw new FirecrestError(`${this.describeUrl()} answered 200 without an access_token`, { status: 200, request: 'POST AUTH_TOKEN_URL' });
    }
    const value = parsed.access_token;
    const now = this.clock();
    const lifetimeS = Number(parsed.expires_in) > 0 ? Number(parsed.expires_in) : jwtLifetimeSeconds(value, now) ?? DEFAULT_LIFETIME_S;
    const lifetimeMs = lifetimeS * 1000;
    const renewBefore = this.options.renewBeforeMs ?? 60_000;
    this.tokensFetched++;
    return { value, expiresAt: now + lifetimeMs, renewAt: now + Math.max(lifetimeMs - renewBefore, lifetimeMs * 0.2) };
  }

  /** `invalid_client (Invalid client credentials)` from an OIDC error body, with the secret scrubbed. */
  private oidcError(text: string): string {
    let out = '';
    try {
      const body = JSON.parse(text) as { error?: unknown; error_description?: unknown; message?: unknown };
      const parts = [body.error, body.error_description ?? body.message].filter((p): p is string => typeof p === 'string' && p !== '');
      out = parts.length === 2 ? `${parts[0]} (${parts[1]})` : (parts[0] ?? '');
    } catch {
      out = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    }
    return redactText(out, [this.options.clientSecret]);
  }
}

/** Seconds left according to a JWT's `exp` claim, when the token is a JWT. */
function jwtLifetimeSeconds(token: string, now: number): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? Math.max(0, claims.exp - now / 1000) : undefined;
  } catch {
    return undefined;
  }
}
