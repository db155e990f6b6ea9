/**
 * The few error classes picas uses, and the one place that maps them to exit codes.
 *
 * Exit codes (documented in the README):
 *   0 ok · 1 usage or bad input · 2 server unreachable · 3 authentication failed
 *   4 not found · 5 conflict (someone else changed the document) · 6 external tool failed
 *   (sbatch, FirecREST) · 70 internal error (a bug: the stack is printed)
 */
export const ExitCode = {
  ok: 0,
  usage: 1,
  unreachable: 2,
  auth: 3,
  notFound: 4,
  conflict: 5,
  external: 6,
  internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class PicasError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(message: string, exitCode: ExitCodeValue, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad flags, bad config, bad input files. `problems` lists every problem found, not only the first. */
export class UsageError extends PicasError {
  readonly problems: string[];
  constructor(message: string, options?: { cause?: unknown; problems?: string[] }) {
    super(message, ExitCode.usage, options);
    this.problems = options?.problems ?? [message];
  }
}

/** The CouchDB server (or another HTTP service) cannot be reached, or keeps answering 5xx. */
export class UnreachableError extends PicasError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.unreachable, options);
  }
}

export class AuthError extends PicasError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.auth, options);
  }
}

export class NotFoundError extends PicasError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.notFound, options);
  }
}

/** The database itself is missing (`picas init` creates it). */
export class MissingDatabaseError extends NotFoundError {}

export class ConflictError extends PicasError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.conflict, options);
  }
}

/** An external tool or service (sbatch, squeue, FirecREST) failed. */
export class ExternalError extends PicasError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.external, options);
  }
}

/** Wraps anything thrown into an Error, keeping the original as `cause`. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : `non-error thrown: ${safeString(value)}`, { cause: value });
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export function exitCodeFor(error: unknown): ExitCodeValue {
  return error instanceof PicasError ? error.exitCode : ExitCode.internal;
}

/**
 * The one top-level mapping from an error to what the user sees and the exit code.
 * Expected errors print one clear line (plus each listed problem); anything else prints its stack.
 */
export function describeForUser(error: unknown): { exitCode: ExitCodeValue; text: string } {
  const err = coerceError(error);
  if (err instanceof UsageError && (err.problems.length > 1 || (err.problems.length === 1 && err.problems[0] !== err.message))) {
    return { exitCode: err.exitCode, text: `${err.message}\n${err.problems.map((p) => `  - ${p}`).join('\n')}` };
  }
  if (err instanceof PicasError) return { exitCode: err.exitCode, text: err.message };
  return { exitCode: ExitCode.internal, text: `internal error: ${err.stack ?? err.message}` };
}
