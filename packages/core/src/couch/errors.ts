/** Maps CouchDB answers and network failures (from nano or from our undici client) to picas errors. */
import { AuthError, ConflictError, NotFoundError, PicasError, UnreachableError, UsageError } from '../errors.js';
import { redactUrl } from '../redact.js';

export interface CouchErrorContext {
  url: string;
  db?: string;
  username?: string;
  /** what we were doing, e.g. `reading token abc` */
  what?: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** The network error code buried somewhere in an error's cause chain, if any. */
export function networkCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 6; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('UND_ERR'))) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  const msg = String((err as Error)?.message ?? '');
  if (/error happened in your connection|fetch failed|socket hang up|other side closed/i.test(msg)) return 'ECONNRESET';
  return undefined;
}

export function unreachable(ctx: CouchErrorContext, code: string, cause?: unknown): UnreachableError {
  return new UnreachableError(`cannot reach CouchDB at ${redactUrl(ctx.url)} (${code})`, { cause });
}

/** Builds the picas error for a CouchDB HTTP status and its `{error, reason}` body. */
export function errorForStatus(status: number, body: unknown, ctx: CouchErrorContext, cause?: unknown): PicasError {
  const b = (body ?? {}) as { error?: string; reason?: string };
  const detail = [b.error, b.reason].filter(Boolean).join(': ');
  const what = ctx.what ? ` while ${ctx.what}` : '';
  if (status === 401) {
    return new AuthError(
      ctx.username ? `authentication failed for user ${ctx.username}` : `CouchDB at ${redactUrl(ctx.url)} requires a login: set PICAS_USERNAME and PICAS_PASSWORD`,
      { cause },
    );
  }
  if (status === 403 && /not allowed to access this db/i.test(b.reason ?? '')) {
    return new AuthError(
      ctx.username
        ? `user ${ctx.username} is not a member of database '${ctx.db}'; a server admin can add it: picas user add ${ctx.username} --existing`
        : `database '${ctx.db}' needs a login: set PICAS_USERNAME and PICAS_PASSWORD`,
      { cause },
    );
  }
  if (status === 403) {
    return new AuthError(`user ${ctx.username ?? '(anonymous)'} is not allowed to do this${what}${detail ? ` (${detail})` : ''}`, { cause });
  }
  if (status === 404) {
    if (b.reason === 'Database does not exist.' || b.reason === 'no_db_file' || (b.error === 'not_found' && b.reason === 'missing' && ctx.what === 'opening database')) {
      return new NotFoundError(`database '${ctx.db}' does not exist: run picas init`, { cause });
    }
    return new NotFoundError(`not found${what}${detail ? ` (${detail})` : ''}`, { cause });
  }
  if (status === 409) return new ConflictError(`conflict${what}: the document changed since it was read`, { cause });
  if (status === 400 || status === 412 || status === 415) return new UsageError(`CouchDB rejected the request${what}: ${detail || status}`, { cause });
  return new UnreachableError(`CouchDB at ${redactUrl(ctx.url)} answered ${status}${what}${detail ? ` (${detail})` : ''}`, { cause });
}

/** Maps an error thrown by nano (which carries `statusCode`) or by fetch (network) to a picas error. */
export function mapCouchError(err: unknown, ctx: CouchErrorContext): PicasError {
  if (err instanceof PicasError) return err;
  const status = (err as { statusCode?: number })?.statusCode;
  if (typeof status === 'number' && status >= 400) {
    const e = err as { error?: string; reason?: string };
    return errorForStatus(status, { error: e.error, reason: e.reason }, ctx, err);
  }
  const code = networkCode(err);
  if (code) return unreachable(ctx, code, err);
  return new PicasError(`unexpected CouchDB client error${ctx.what ? ` while ${ctx.what}` : ''}: ${(err as Error)?.message ?? String(err)}`, 70, { cause: err });
}

/** Transient faults that a retry may cure: network errors and 5xx (never 4xx). */
export function isTransient(err: unknown): boolean {
  if (err instanceof UnreachableError) return true;
  const status = (err as { statusCode?: number })?.statusCode;
  if (typeof status === 'number') return status >= 500 || status === 429;
  return networkCode(err) !== undefined;
}
