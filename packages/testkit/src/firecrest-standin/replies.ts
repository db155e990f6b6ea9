/**
 * The stand-in's answers: a reply to send, and FirecREST v2's error body `{errorType, message, causedBy,
 * data, user}` for every 4xx/5xx, whether thrown while handling a request or injected as a fault.
 */

export interface Reply {
  status: number;
  json?: unknown;
  bytes?: Buffer;
  headers?: Record<string, string>;
}

/** Thrown while handling a request: answered with its status and the v2 error body. */
export class HttpFailure extends Error {
  constructor(readonly status: number, message: string, readonly errorType: 'error' | 'validation' = 'error', readonly causedBy: string[] | null = null, readonly data: unknown = null) {
    super(message);
  }
}

/** The reply for an error thrown while handling a request (`user`: the token's user, when known). */
export function failureReply(err: unknown, user: string | null): Reply {
  const failure = err instanceof HttpFailure ? err : new HttpFailure(500, `internal error: ${(err as Error).message}`);
  return { status: failure.status, json: { errorType: failure.errorType, message: failure.message, causedBy: failure.causedBy, data: failure.data, user } };
}

const FAULT_MESSAGES: Record<number, string> = {
  401: 'Access token has expired',
  403: 'Forbidden',
  404: 'Job not found',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The reply for an injected 401/403/404/429/5xx, in FirecREST v2's error body, with its Retry-After header when given. */
export function faultReply(status: number, retryAfter: string | undefined): Reply {
  const message = FAULT_MESSAGES[status] ?? 'Internal Server Error';
  return { status, json: { errorType: 'error', message, causedBy: null, data: null, user: null }, headers: retryAfter !== undefined ? { 'Retry-After': retryAfter } : undefined };
}
