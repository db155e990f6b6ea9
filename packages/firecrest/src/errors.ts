/**
 * FirecREST failures as picas errors, so the CLI maps them to exit codes in its one place:
 *   FirecrestError            the server refused or failed (4xx/5xx)         → exit 6 (external)
 *   FirecrestAuthError        login at AUTH_TOKEN_URL failed, or 401/403      → exit 3 (auth)
 *   FirecrestUnreachableError network error or timeout                        → exit 2 (unreachable)
 * Each carries what the server said: its `message`, `errorType`, `causedBy` and the HTTP status.
 * Messages never contain the client secret or an access token.
 */
import { AuthError, ExternalError, UnreachableError } from '@picas/core';

/** The body of every FirecREST v2 4xx/5xx answer. */
export interface FirecrestErrorBody {
  errorType?: string;
  message?: string;
  causedBy?: string[] | null;
  data?: unknown;
  user?: string | null;
}

export interface FirecrestErrorDetails {
  status?: number;
  /** the server's `message` */
  serverMessage?: string;
  errorType?: string;
  causedBy?: string[] | null;
  data?: unknown;
  /** the request, e.g. `POST /compute/daint/jobs` */
  request?: string;
}

/** The server's error details, carried as fields by both error classes (declaration merging). */
export interface FirecrestError extends Readonly<FirecrestErrorDetails> {}
export class FirecrestError extends ExternalError {
  constructor(message: string, details: FirecrestErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    Object.assign(this, details);
  }
}

export interface FirecrestAuthError extends Readonly<FirecrestErrorDetails> {}
export class FirecrestAuthError extends AuthError {
  constructor(message: string, details: FirecrestErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    Object.assign(this, details);
  }
}

export class FirecrestUnreachableError extends UnreachableError {
  readonly request?: string;
  /**
   * true when a request that creates something (a job) may have reached the server before the
   * connection failed: the job may exist. Never resend such a request blindly.
   */
  readonly outcomeUnknown: boolean;
  constructor(message: string, details: { request?: string; outcomeUnknown?: boolean } = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.request = details.request;
    this.outcomeUnknown = details.outcomeUnknown ?? false;
  }
}

/** True for a FirecREST 404 (unknown job, missing file, unknown system). */
export function isFirecrestNotFound(err: unknown): boolean {
  return err instanceof FirecrestError && err.status === 404;
}

/** Reads the v2 error body, tolerating non-JSON answers from proxies in front of the server. */
export function parseErrorBody(text: string): FirecrestErrorBody {
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const body = parsed as Record<string, unknown>;
      // FastAPI's own errors use `detail`; OIDC servers use `error_description`
      const message = body.message ?? body.detail ?? body.error_description ?? body.error;
      return {
        errorType: typeof body.errorType === 'string' ? body.errorType : undefined,
        message: typeof message === 'string' ? message : message !== undefined ? JSON.stringify(message) : undefined,
        causedBy: Array.isArray(body.causedBy) ? body.causedBy.map(String) : null,
        data: body.data,
        user: typeof body.user === 'string' ? body.user : null,
      };
    }
  } catch {
    // not JSON: fall through
  }
  return { message: text.replace(/\s+/g, ' ').trim().slice(0, 300) };
}

/** One line: the server's message plus what caused it. */
export function describeServerError(status: number, body: FirecrestErrorBody): string {
  const parts = [`${status}${body.errorType && body.errorType !== 'error' ? ` ${body.errorType}` : ''}`];
  if (body.message) parts.push(body.message);
  let text = parts.join(': ');
  if (body.causedBy && body.causedBy.length > 0) text += ` (caused by: ${body.causedBy.join('; ')})`;
  return text;
}
