/**
 * A small FirecREST v2 client (undici): systems, jobs (submit, status, list, metadata, cancel) and the
 * file operations a launcher needs (mkdir, upload, download, ls, view).
 *
 * Every request:
 *   - carries a fresh-enough access token (see auth.ts); on a 401 the token is renewed once and the
 *     request sent again (the server refused it before doing anything, so that is safe for any method);
 *   - has a time limit and accepts an AbortSignal;
 *   - waits out a 429 for as long as `Retry-After` says (seconds or an HTTP date), then sends again.
 * Idempotent requests (GET, DELETE, `mkdir -p`, upload) are also retried with jittered backoff on 5xx
 * and network errors. A job-creating POST is never sent twice unless the connection failed before
 * anything was sent: a lost answer might mean the job exists.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { backoffDelay, networkCode, redactUrl, sleep, UsageError } from '@picas/core';
import { ClientCredentialsAuth, type ClientCredentials } from './auth.js';
import { describeServerError, FirecrestAuthError, FirecrestError, FirecrestUnreachableError, isFirecrestNotFound, parseErrorBody } from './errors.js';
import { jobState, type JobState } from './job-state.js';
import { retryAfterMs } from './retry-after.js';

/** FirecREST's limit for a direct upload; larger files need a staged transfer. */
export const MAX_DIRECT_UPLOAD_BYTES = 5 * 1024 * 1024;

export interface FirecrestClientOptions {
  /** FIRECREST_URL, including any root path the site adds */
  url: string;
  /** client credentials, or a ready auth to share */
  auth: ClientCredentials | ClientCredentialsAuth;
  /** per request; default 30 s */
  timeoutMs?: number;
  /** retries of an idempotent request on 5xx and network errors; default 4 */
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** the longest one request waits in total on 429 answers before giving up; default 5 min */
  maxRateLimitWaitMs?: number;
  /** how long after a submit a 404 for that job is taken as "not visible yet"; default 20 s */
  notFoundGraceMs?: number;
  /** called before each wait, e.g. to log it */
  onRetry?: (info: RetryInfo) => void;
  /** passed to the auth when it is built here: renew this long before expiry (default 60 s) */
  renewBeforeMs?: number;
  /** passed to the auth when it is built here (tests move the clock) */
  clock?: () => number;
}

export interface RetryInfo {
  request: string;
  reason: string;
  attempt: number;
  delayMs: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface FirecrestSystem {
  name: string;
  scheduler?: { type?: string; version?: string };
  fileSystems?: Array<{ path: string; dataType?: string; defaultWorkDir?: boolean }>;
  [key: string]: unknown;
}

/** The job fields of `POST /compute/{system}/jobs`. Time and node counts go in the script's #SBATCH lines. */
export interface JobSubmission {
  /** the script text; give this or `scriptPath` */
  script?: string;
  /** an absolute path of a script on the cluster */
  scriptPath?: string;
  /** absolute; the job runs there (`sbatch --chdir`) */
  workingDirectory: string;
  /** exported to the job (`sbatch --export=ALL,K=V`) */
  env?: Record<string, string>;
  name?: string;
  account?: string;
  partition?: string;
  reservation?: string;
  standardInput?: string;
  standardOutput?: string;
  standardError?: string;
  constraints?: string;
}

export interface FirecrestJob {
  jobId: string;
  name?: string;
  /** the state name, recognised by prefix (`CANCELLED by 0` → CANCELLED) */
  state: JobState;
  /** the state as the server wrote it */
  rawState: string;
  stateReason?: string;
  exitCode?: number;
  interruptSignal?: number;
  time?: { elapsed?: number; start?: number; end?: number; suspended?: number; limit?: number };
  partition?: string;
  account?: string;
  user?: string;
  workingDirectory?: string;
  /** the job object as the server sent it */
  raw: Record<string, unknown>;
}

export interface JobMetadata {
  jobId: string;
  script?: string;
  standardInput?: string;
  standardOutput?: string;
  standardError?: string;
}

export interface FileEntry {
  name: string;
  type: 'd' | '-' | 'l' | string;
  linkTarget?: string | null;
  user?: string;
  group?: string;
  permissions?: string;
  lastModified?: string;
  size?: string | number;
}

interface SendRequest {
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

interface SendResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json?: any;
  bytes?: Buffer;
}

/** Connection errors that mean nothing reached the server, so even a POST may be sent again. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export class FirecrestClient {
  readonly url: string;
  readonly auth: ClientCredentialsAuth;
  /** HTTP requests sent to the API (not counting the token endpoint) */
  requests = 0;
  private readonly dispatcher: Agent;
  private readonly ownsAuth: boolean;
  private readonly submittedAt = new Map<string, number>();

  constructor(private readonly options: FirecrestClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 8 });
    if (options.auth instanceof ClientCredentialsAuth) {
      this.auth = options.auth;
      this.ownsAuth = false;
    } else {
      this.auth = new ClientCredentialsAuth({ ...options.auth, dispatcher: this.dispatcher, renewBeforeMs: options.renewBeforeMs, clock: options.clock, timeoutMs: options.timeoutMs });
      this.ownsAuth = true;
    }
  }

  // ---- status ----

  async systems(opts: RequestOptions = {}): Promise<FirecrestSystem[]> {
    const res = await this.send({ method: 'GET', path: '/status/systems', expect: [200], idempotent: true, what: 'listing systems', signal: opts.signal });
    return (res.json?.systems ?? []) as FirecrestSystem[];
  }

  // ---- compute ----

  /** Submits a job and returns its id (as a string, whether the server sent a string or a number). */
  async submitJob(system: string, job: JobSubmission, opts: RequestOptions = {}): Promise<string> {
    const res = await this.send({
      method: 'POST',
      path: `/compute/${enc(system)}/jobs`,
      json: { job: withoutUndefined(job) },
      expect: [200, 201],
      idempotent: false,
      what: `submitting a job on system '${system}'`,
      signal: opts.signal,
    });
    const id = res.json?.jobId ?? res.json?.jobid;
    if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '') {
      throw new FirecrestError(`FirecREST accepted a job on system '${system}' but sent no jobId`, { status: res.status, data: res.json });
    }
    const jobId = String(id);
    this.submittedAt.set(`${system}/${jobId}`, Date.now());
    return jobId;
  }

  /**
   * One job's status. A 404 shortly after the submit (up to `notFoundGraceMs`, measured from
   * `submittedAt` or from this client's own submit) means "not visible yet", and the job is asked for again.
   */
  async job(system: string, jobId: string | number, opts: RequestOptions & { submittedAt?: number } = {}): Promise<FirecrestJob> {
    const id = String(jobId);
    const submittedAt = opts.submittedAt ?? this.submittedAt.get(`${system}/${id}`);
    const grace = this.options.notFoundGraceMs ?? 20_000;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.send({ method: 'GET', path: `/compute/${enc(system)}/jobs/${enc(id)}`, expect: [200], idempotent: true, what: `reading job ${id} on system '${system}'`, signal: opts.signal });
        const jobs = (res.json?.jobs ?? []) as Record<string, unknown>[];
        const found = jobs.find((j) => String(j.jobId) === id) ?? jobs[0];
        if (!found) throw new FirecrestError(`FirecREST sent no job for job ${id} on system '${system}'`, { status: res.status, data: res.json });
        return toJob(found);
      } catch (err) {
        const waited = submittedAt === undefined ? Infinity : Date.now() - submittedAt;
        if (!isFirecrestNotFound(err) || waited >= grace) throw err;
        await sleep(Math.min(1000 + attempt * 500, 3000, grace - waited), opts.signal);
        opts.signal?.throwIfAborted();
      }
    }
  }

  async jobs(system: string, query: { allusers?: boolean; account?: string; name?: string; timeWindow?: string } = {}, opts: RequestOptions = {}): Promise<FirecrestJob[]> {
    const res = await this.send({
      method: 'GET',
      path: `/compute/${enc(system)}/jobs`,
      query: { allusers: query.allusers, account: query.account, name: query.name, time_window: query.timeWindow },
      expect: [200],
      idempotent: true,
      what: `listing jobs on system '${system}'`,
      signal: opts.signal,
    });
    return ((res.json?.jobs ?? []) as Record<string, unknown>[]).map(toJob);
  }

  async jobMetadata(system: string, jobId: string | number, opts: RequestOptions = {}): Promise<JobMetadata> {
    const id = String(jobId);
    const res = await this.send({ method: 'GET', path: `/compute/${enc(system)}/jobs/${enc(id)}/metadata`, expect: [200], idempotent: true, what: `reading the metadata of job ${id} on system '${system}'`, signal: opts.signal });
    const meta = ((res.json?.jobs ?? []) as Record<string, unknown>[])[0] ?? {};
    return { ...(meta as object), jobId: String(meta.jobId ?? id) } as JobMetadata;
  }

  /** Cancels a job (`scancel`). */
  async cancelJob(system: string, jobId: string | number, opts: RequestOptions = {}): Promise<void> {
    const id = String(jobId);
    await this.send({ method: 'DELETE', path: `/compute/${enc(system)}/jobs/${enc(id)}`, expect: [200, 204], idempotent: true, what: `cancelling job ${id} on system '${system}'`, signal: opts.signal });
  }

  // ---- filesystem ----

  /** Creates a directory; with `parent` (the default) also its parents, and an existing one is fine. */
  async mkdir(system: string, path: string, opts: RequestOptions & { parent?: boolean } = {}): Promise<void> {
    const parent = opts.parent ?? true;
    await this.send({
      method: 'POST',
      path: `/filesystem/${enc(system)}/ops/mkdir`,
      json: { sourcePath: path, parent },
      expect: [200, 201],
      idempotent: parent,
      what: `creating directory ${path} on system '${system}'`,
      signal: opts.signal,
    });
  }

  /** Uploads `content` as `directory/fileName` (multipart field `file`), at most 5 MiB. */
  async upload(system: string, directory: string, fileName: string, content: string | Uint8Array, opts: RequestOptions = {}): Promise<void> {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
    if (bytes.length > MAX_DIRECT_UPLOAD_BYTES) {
      throw new UsageError(`cannot upload ${fileName}: ${(bytes.length / 1024 / 1024).toFixed(1)} MiB is over FirecREST's 5 MiB limit for a direct upload`);
    }
    if (/[/\\"\r\n]/.test(fileName) || fileName === '' || fileName === '.' || fileName === '..') {
      throw new UsageError(`cannot upload '${fileName}': a file name must not be empty or contain / \\ " or line breaks`);
    }
    const boundary = `----picas${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    await this.send({
      method: 'POST',
      path: `/filesystem/${enc(system)}/ops/upload`,
      query: { path: directory },
      body,
      contentType: `multipart/form-data; boundary=${boundary}`,
      expect: [200, 201, 204],
      idempotent: true,
      what: `uploading ${fileName} to ${directory} on system '${system}'`,
      signal: opts.signal,
    });
  }

  async download(system: string, path: string, opts: RequestOptions = {}): Promise<Buffer> {
    const res = await this.send({ method: 'GET', path: `/filesystem/${enc(system)}/ops/download`, query: { path }, expect: [200], idempotent: true, raw: true, what: `downloading ${path} from system '${system}'`, signal: opts.signal });
    return res.bytes ?? Buffer.alloc(0);
  }

  async ls(system: string, path: string, opts: RequestOptions & { showHidden?: boolean } = {}): Promise<FileEntry[]> {
    const res = await this.send({ method: 'GET', path: `/filesystem/${enc(system)}/ops/ls`, query: { path, showHidden: opts.showHidden }, expect: [200], idempotent: true, what: `listing ${path} on system '${system}'`, signal: opts.signal });
    return (res.json?.output ?? []) as FileEntry[];
  }

  /** The text of a (small) file, optionally `size` bytes from `offset`. */
  async view(system: string, path: string, opts: RequestOptions & { size?: number; offset?: number } = {}): Promise<string> {
    const res = await this.send({ method: 'GET', path: `/filesystem/${enc(system)}/ops/view`, query: { path, size: opts.size, offset: opts.offset }, expect: [200], idempotent: true, what: `viewing ${path} on system '${system}'`, signal: opts.signal });
    return String(res.json?.output ?? '');
  }

  async close(): Promise<void> {
    if (this.ownsAuth) await this.auth.close();
    await this.dispatcher.close();
  }

  // ---- the one request path ----

  private async send(req: SendRequest): Promise<SendResult> {
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

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function optionalNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  // Slurm's JSON sometimes wraps numbers: {set, infinite, number}
  if (value && typeof value === 'object' && 'number' in value) return optionalNumber((value as { number: unknown }).number);
  return undefined;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** The v2 Job model as a typed object (jobId as a string, state recognised by prefix). */
export function toJob(raw: Record<string, unknown>): FirecrestJob {
  const status = (raw.status ?? {}) as Record<string, unknown>;
  const time = (raw.time ?? {}) as Record<string, unknown>;
  const rawState = optionalString(status.state) ?? optionalString(raw.state) ?? '';
  return {
    jobId: String(raw.jobId ?? raw.jobid ?? ''),
    name: optionalString(raw.name),
    state: jobState(rawState),
    rawState,
    stateReason: optionalString(status.stateReason),
    exitCode: optionalNumber(status.exitCode),
    interruptSignal: optionalNumber(status.interruptSignal),
    time: {
      elapsed: optionalNumber(time.elapsed),
      start: optionalNumber(time.start),
      end: optionalNumber(time.end),
      suspended: optionalNumber(time.suspended),
      limit: optionalNumber(time.limit),
    },
    partition: optionalString(raw.partition),
    account: optionalString(raw.account),
    user: optionalString(raw.user),
    workingDirectory: optionalString(raw.workingDirectory),
    raw,
  };
}
