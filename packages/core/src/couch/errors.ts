/** Maps CouchDB answers and network failures (from nano or from our undici client) to picas errors. */
import { AuthError, ConflictError, MissingDatabaseError, NotFoundError, PicasError, UnreachableError, UsageError } from '../errors.js';
import type { CredentialSources } from '../connection-config.js';
import { redactUrl } from '../redact.js';

export interface CouchErrorContext {
  url: string;
  db?: string;
  username?: string;
  /** what we were doing, e.g. `reading token abc` */
  what?: string;
  /** where the user name and password came from (e.g. `env PICAS_USERNAME`), never their values */
  credentialSources?: CredentialSources;
}

/** What a server answered, for saying why it is not CouchDB: its status, content type and the start of its body. */
export interface ForeignAnswer {
  status: number;
  contentType?: string;
  text: string;
}

/**
 * Whether an answer cannot have come from CouchDB's API: its body is not JSON, or it is an error without
 * CouchDB's `{error, reason}`. Server errors (5xx) are left to the retry logic whatever their body: a proxy
 * or load balancer in front of a busy or restarting CouchDB answers them in its own words, and a pilot must
 * wait those out, not stop. Except 501 (not implemented): a web server that has no such method, never a
 * passing state (CouchDB's own 501s carry `{error, reason}`).
 */
export function isForeignAnswer(status: number, text: string, parsed: unknown): boolean {
  if (status >= 500 && status !== 501) return false;
  if (text === '') return status >= 400;
  if (parsed === undefined) return true;
  return status >= 400 && typeof (parsed as { error?: unknown } | null)?.error !== 'string';
}

/** The error for a URL that answers, but not as a CouchDB server's root does (a web page, Fauxton, another API). */
export function notCouchDb(ctx: CouchErrorContext, answer: ForeignAnswer, cause?: unknown): UsageError {
  const excerpt = answer.text.replace(/\s+/g, ' ').trim();
  const shown = excerpt.length > 80 ? `${excerpt.slice(0, 79)}…` : excerpt;
  const type = answer.contentType ? ` ${answer.contentType.split(';')[0]!.trim()}` : '';
  return new UsageError(
    `${redactUrl(ctx.url)} is not a CouchDB server: it answered ${answer.status}${type}${shown ? ` (${JSON.stringify(shown)})` : ''}${ctx.what ? ` while ${ctx.what}` : ''}`,
    { cause },
  );
}

/** `(user name from env PICAS_USERNAME, password from conf.yml (password))`: where a failed login came from. */
function credentialOrigin(sources: CredentialSources | undefined): string {
  const parts = [sources?.username && `user name from ${sources.username}`, sources?.password && `password from ${sources.password}`].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
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
      ctx.username ? `authentication failed for user ${ctx.username}${credentialOrigin(ctx.credentialSources)}` : `CouchDB at ${redactUrl(ctx.url)} requires a login: set PICAS_USERNAME and PICAS_PASSWORD`,
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
      return new MissingDatabaseError(`database '${ctx.db}' does not exist: run picas init`, { cause });
    }
    return new NotFoundError(`not found${what}${detail ? ` (${detail})` : ''}`, { cause });
  }
  if (status === 405) {
    // CouchDB answers every method picas sends at its API; a 405 is a path it serves otherwise (Fauxton's files)
    return notCouchDb(ctx, { status, contentType: 'application/json', text: detail }, cause);
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
