/**
 * A small FirecREST v2 client (undici): systems, jobs (submit, status, list, metadata, cancel) and the
 * file operations a launcher needs (mkdir, upload, download, ls, view). Every request goes through one
 * path with auth renewal, time limits and retries (firecrest-transport.ts); the objects it returns are
 * typed in job-model.ts.
 */
import { Agent } from 'undici';
import { sleep, UsageError } from '@picas/core';
import { ClientCredentialsAuth, type ClientCredentials } from './auth.js';
import { FirecrestError, isFirecrestNotFound } from './errors.js';
import { FirecrestTransport, type SendRequest, type SendResult, type TransportOptions } from './firecrest-transport.js';
import { toJob, type FileEntry, type FirecrestJob, type FirecrestSystem, type JobMetadata, type JobSubmission } from './job-model.js';

/** FirecREST's limit for a direct upload; larger files need a staged transfer. */
export const MAX_DIRECT_UPLOAD_BYTES = 5 * 1024 * 1024;

export interface FirecrestClientOptions extends TransportOptions {
  /** FIRECREST_URL, including any root path the site adds */
  url: string;
  /** client credentials, or a ready auth to share */
  auth: ClientCredentials | ClientCredentialsAuth;
  /** how long after a submit a 404 for that job is taken as "not visible yet"; default 20 s */
  notFoundGraceMs?: number;
  /** passed to the auth when it is built here: renew this long before expiry (default 60 s) */
  renewBeforeMs?: number;
  /** passed to the auth when it is built here (tests move the clock) */
  clock?: () => number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export class FirecrestClient {
  readonly url: string;
  readonly auth: ClientCredentialsAuth;
  private readonly dispatcher: Agent;
  private readonly transport: FirecrestTransport;
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
    this.transport = new FirecrestTransport(this.url, this.auth, this.dispatcher, options);
  }

  /** HTTP requests sent to the API (not counting the token endpoint) */
  get requests(): number {
    return this.transport.requests;
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

  private send(req: SendRequest): Promise<SendResult> {
    return this.transport.send(req);
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
