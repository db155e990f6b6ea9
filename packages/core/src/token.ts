/**
 * The token model: PiCaS' schema (never renamed) plus our additions, and the pure state transitions.
 * Nothing here does I/O; the operations in `ops/` read a document, apply one of these, and write it.
 *
 * PiCaS fields: _id, type="token", lock, done, hostname, scrub_count, input, exit_code, output, error[],
 *   _attachments (logs_<id>.out / logs_<id>.err), and a job-id field (slurm_job_id, pbs_job_id, ...).
 * picas additions (documented in docs/cli.md, Token fields):
 *   priority          higher is claimed first (default 0)
 *   expected_seconds  how long the token is expected to run, for the pilot's time budget
 *   created           epoch seconds when pushed
 *   attempts          how many times the token was claimed
 *   worker_id         the pilot that holds (or last held) the token
 *   claim_id          unique per claim (worker id + nonce): fencing for heartbeats and completion
 *   claimed_from      the `_rev` the claim was written on: lets repair prove that a claim never won (claim-proof.ts)
 *   lease_until       epoch seconds; a locked token whose lease passed may be reclaimed
 *   started, finished epoch seconds (float) of the command's start and end
 *   run_seconds       wall time of the command
 *   events[]          the last few state changes that were not plain runs: {time, event, message, worker_id}
 *   depends_on        ids this token waits for (docs/dag.md)
 *   has_dependents    true on a token that others depend on: its completion releases them
 *   blocked_by        {id, reason, time} on a waiting token whose dependency failed or was deleted
 * A waiting token has lock = -1 and done = 0: no PiCaS view condition matches it, so neither picas nor
 * Python PiCaS claims it. A blocked one is the same with `blocked_by` set.
 */

export type TokenState = 'todo' | 'locked' | 'done' | 'error';
export const TOKEN_STATES: readonly TokenState[] = ['todo', 'locked', 'done', 'error'];
/** The states of tokens that wait for others (lock = -1, done = 0); not PiCaS states, see docs/dag.md. */
export type DependencyState = 'waiting' | 'blocked';
export type AnyTokenState = TokenState | DependencyState;
export const ALL_TOKEN_STATES: readonly AnyTokenState[] = ['todo', 'locked', 'done', 'error', 'waiting', 'blocked'];
/** `lock` of a token that waits for its dependencies */
export const WAITING_LOCK = -1;

export interface BlockedBy {
  /** the dependency that failed or was deleted (the root cause, also for tokens blocked through a chain) */
  id: string;
  reason: string;
  time?: number;
}

export interface TokenError {
  time: number;
  message?: string;
  exception?: string;
}

export interface TokenEvent {
  time: number;
  event: string;
  message?: string;
  worker_id?: string;
}

export interface Attachment {
  content_type: string;
  data?: string;
  stub?: boolean;
  length?: number;
  digest?: string;
  revpos?: number;
}

export interface TokenDoc {
  _id: string;
  _rev?: string;
  _conflicts?: string[];
  _attachments?: Record<string, Attachment>;
  type: 'token' | string;
  lock: number;
  done: number;
  hostname: string;
  scrub_count: number;
  input: unknown;
  exit_code: number | string;
  output?: unknown;
  error?: TokenError[];
  priority?: number;
  expected_seconds?: number;
  created?: number;
  attempts?: number;
  worker_id?: string;
  claim_id?: string;
  claimed_from?: string;
  lease_until?: number;
  started?: number;
  finished?: number;
  run_seconds?: number;
  events?: TokenEvent[];
  depends_on?: string[];
  has_dependents?: boolean;
  blocked_by?: BlockedBy;
  /** a sweep token's parameters (docs/sweeps.md) */
  params?: Record<string, string>;
  [field: string]: unknown;
}

/** PiCaS' job-id fields, in the order PiCaS tries them. */
export const JOB_ID_FIELDS = ['dirac_job_id', 'wms_job_id', 'cream_job_id', 'pbs_job_id', 'slurm_job_id'] as const;

export const MAX_EVENTS = 20;

/**
 * The largest token input, in UTF-8 bytes, that a pilot hands to bash (through stdin or a file: a command
 * line or an environment string is limited to 128 KiB on Linux, `spawn E2BIG`). `picas push` refuses larger
 * inputs, since a pilot could never run them.
 */
export const MAX_INPUT_BYTES = 1024 * 1024;

/** The input as the command gets it: a string as it is, anything else as JSON. */
export function inputText(input: unknown): string {
  return typeof input === 'string' ? input : (JSON.stringify(input ?? null) ?? 'null');
}

/**
 * Why no pilot can ever run a token with this input, as the rest of a sentence about it (`the input ...`),
 * or undefined when it can: a NUL byte (no command, argument or environment string can hold one), or more
 * than MAX_INPUT_BYTES.
 */
export function unrunnableInput(input: unknown): string | undefined {
  const text = inputText(input);
  const nul = text.indexOf('\0');
  if (nul !== -1) return `holds a NUL byte (character ${nul + 1}), which no command can take`;
  // a UTF-16 unit is at most 3 UTF-8 bytes: only long texts need counting
  if (text.length * 3 > MAX_INPUT_BYTES) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_INPUT_BYTES) return `is ${bytes.toLocaleString('en-US')} bytes, over the ${MAX_INPUT_BYTES / 1024 / 1024} MiB a token's input may have`;
  }
  return undefined;
}

/**
 * A token reclaimed this many times after its lease expired (its pilots died, or could not record it) is
 * not run again: the pilot that reclaims it next ends it in error, so a poison token never stays locked.
 */
export const MAX_LEASE_EXPIRIES = 3;

/** How many times the token was reclaimed after an expired lease (its `lease_expired` events). */
export function leaseExpiries(doc: Pick<TokenDoc, 'events'>): number {
  return Array.isArray(doc.events) ? doc.events.filter((e) => e?.event === 'lease_expired').length : 0;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** `parseInt` as the view functions use it, so the CLI classifies exactly like CouchDB does. */
function jsParseInt(value: unknown): number {
  return Number.parseInt(String(value), 10);
}

/**
 * The state of a token, by the same conditions as the `_design/Monitor` views.
 * plus picas' own `waiting` (lock = -1, done = 0) and `blocked` (the same with `blocked_by`).
 * A token matching none (e.g. PiCaS' lock=-1/done=-1 errors) is `other`.
 */
export function tokenState(doc: Pick<TokenDoc, 'lock' | 'done' | 'exit_code'> & { blocked_by?: unknown }): AnyTokenState | 'other' {
  const lock = doc.lock as unknown as number;
  const done = doc.done as unknown as number;
  if (lock == 0 && done == 0) return 'todo';
  if (lock > 0 && done == 0) return 'locked';
  if (lock > 0 && done > 0 && jsParseInt(doc.exit_code) == 0) return 'done';
  if (lock > 0 && done > 0 && jsParseInt(doc.exit_code) != 0) return 'error';
  if (lock == WAITING_LOCK && done == 0) return doc.blocked_by ? 'blocked' : 'waiting';
  return 'other';
}

/** The ids a token depends on (an empty list for an independent token). */
export function dependenciesOf(doc: Pick<TokenDoc, 'depends_on'>): string[] {
  return Array.isArray(doc.depends_on) ? doc.depends_on.filter((d): d is string => typeof d === 'string') : [];
}

/** waiting → todo: every dependency is done. */
export function released(doc: TokenDoc, message: string, nowMs = Date.now(), actor?: string): TokenDoc {
  const next: TokenDoc = { ...doc, lock: 0, done: 0, events: appendEvent(doc, { time: Math.floor(nowMs / 1000), event: 'released', message, ...(actor ? { worker_id: actor } : {}) }) };
  delete next.blocked_by;
  return next;
}

/** waiting → blocked: a dependency failed or was deleted (`root` names it). */
export function blocked(doc: TokenDoc, root: string, reason: string, nowMs = Date.now(), actor?: string): TokenDoc {
  const time = Math.floor(nowMs / 1000);
  return {
    ...doc,
    lock: WAITING_LOCK,
    done: 0,
    blocked_by: { id: root, reason, time },
    events: appendEvent(doc, { time, event: 'blocked', message: reason, ...(actor ? { worker_id: actor } : {}) }),
  };
}

/** blocked → waiting (its failed dependency was retried). */
export function unblocked(doc: TokenDoc, message: string, nowMs = Date.now(), actor?: string): TokenDoc {
  const next: TokenDoc = { ...doc, lock: WAITING_LOCK, done: 0, events: appendEvent(doc, { time: Math.floor(nowMs / 1000), event: 'unblocked', message, ...(actor ? { worker_id: actor } : {}) }) };
  delete next.blocked_by;
  return next;
}

export function isToken(doc: unknown): doc is TokenDoc {
  return !!doc && typeof doc === 'object' && (doc as TokenDoc).type === 'token';
}

/** A fresh todo token with PiCaS' base fields; extra fields are kept as given. */
export function newToken(id: string, input: unknown, fields: Record<string, unknown> = {}, now = nowSeconds()): TokenDoc {
  return {
    _id: id,
    type: 'token',
    lock: 0,
    done: 0,
    hostname: '',
    scrub_count: 0,
    input,
    exit_code: '',
    output: {},
    error: [],
    created: now,
    ...fields,
  } as TokenDoc;
}

export function appendEvent(doc: TokenDoc, event: TokenEvent): TokenEvent[] {
  const events = Array.isArray(doc.events) ? [...doc.events, event] : [event];
  return events.slice(-MAX_EVENTS);
}

export interface ClaimInfo {
  workerId: string;
  /** unique per claim: worker id plus a nonce */
  claimId: string;
  hostname: string;
  leaseMs: number;
  now?: number;
  jobId?: { field: string; value: string };
  /** extra Slurm details to record, e.g. slurm_array_task_id */
  extra?: Record<string, unknown>;
}

/** todo → locked. */
export function lockedBy(doc: TokenDoc, claim: ClaimInfo): TokenDoc {
  const nowMs = claim.now ?? Date.now();
  const next: TokenDoc = {
    ...doc,
    lock: Math.floor(nowMs / 1000),
    done: 0,
    hostname: claim.hostname,
    worker_id: claim.workerId,
    claim_id: claim.claimId,
    lease_until: Math.ceil((nowMs + claim.leaseMs) / 1000),
    attempts: (typeof doc.attempts === 'number' ? doc.attempts : 0) + 1,
    ...claim.extra,
  };
  for (const f of JOB_ID_FIELDS) delete next[f];
  if (claim.jobId) next[claim.jobId.field] = claim.jobId.value;
  return next;
}

/** Whether this document is still the one this claim wrote (same worker and nonce), and still running. */
export function isHeldBy(doc: TokenDoc | undefined, claimId: string): boolean {
  return !!doc && doc.claim_id === claimId && tokenState(doc) === 'locked';
}

/** Heartbeat: push the lease forward. */
export function withLease(doc: TokenDoc, leaseMs: number, nowMs = Date.now()): TokenDoc {
  return { ...doc, lease_until: Math.ceil((nowMs + leaseMs) / 1000) };
}

export function leaseExpired(doc: TokenDoc, nowMs = Date.now()): boolean {
  return tokenState(doc) === 'locked' && typeof doc.lease_until === 'number' && doc.lease_until > 0 && doc.lease_until * 1000 <= nowMs;
}

export interface RunResult {
  exitCode: number;
  started: number;
  finished: number;
  /** set when the run did not exit on its own (timeout, signal) */
  reason?: string;
  /** attachments to store, already encoded */
  attachments?: Record<string, Attachment>;
  hostname?: string;
  /** what the work returned (a function's result, JSON), stored as the token's `output`; undefined leaves it */
  output?: unknown;
}

/** locked → done (exit 0) or error (anything else). */
export function finished(doc: TokenDoc, result: RunResult): TokenDoc {
  const doneAt = Math.max(1, Math.floor(result.finished));
  const next: TokenDoc = {
    ...doc,
    done: doneAt,
    exit_code: result.exitCode,
    started: result.started,
    finished: result.finished,
    run_seconds: Math.round((result.finished - result.started) * 1000) / 1000,
    lease_until: 0,
  };
  if (next.lock <= 0) next.lock = Math.floor(result.started) || doneAt;
  if (result.attachments) next._attachments = { ...(doc._attachments ?? {}), ...result.attachments };
  if (result.output !== undefined) next.output = result.output;
  if (result.exitCode !== 0) {
    const message = result.reason ?? `exit code ${result.exitCode}`;
    next.error = [...(Array.isArray(doc.error) ? doc.error : []), { time: doneAt, message }];
  }
  return next;
}

/** locked or error → todo (PiCaS' scrub): lock fields cleared, scrub_count + 1, the reason recorded. */
export function scrubbed(doc: TokenDoc, event: string, message: string, nowMs = Date.now(), workerId?: string): TokenDoc {
  const next: TokenDoc = {
    ...doc,
    lock: 0,
    done: 0,
    hostname: '',
    exit_code: '',
    scrub_count: (typeof doc.scrub_count === 'number' ? doc.scrub_count : 0) + 1,
    lease_until: 0,
    events: appendEvent(doc, { time: Math.floor(nowMs / 1000), event, message, ...(workerId ? { worker_id: workerId } : {}) }),
  };
  delete next.claim_id;
  delete next.claimed_from;
  for (const f of JOB_ID_FIELDS) delete next[f];
  return next;
}

/**
 * Back to todo after a claim that never won (a cluster claim that only got 202s): nothing ran, so unlike
 * `scrubbed` the scrub count stays and the claim's attempt is taken back; an event says what happened.
 */
export function unclaimed(doc: TokenDoc, message: string, nowMs = Date.now(), workerId?: string): TokenDoc {
  const next = scrubbed(doc, 'unclaimed', message, nowMs, workerId);
  next.scrub_count = typeof doc.scrub_count === 'number' ? doc.scrub_count : 0;
  next.attempts = Math.max(0, (typeof doc.attempts === 'number' ? doc.attempts : 1) - 1);
  delete next.worker_id;
  for (const f of ['slurm_job_id_raw', 'slurm_array_job_id', 'slurm_array_task_id']) delete next[f];
  return next;
}
