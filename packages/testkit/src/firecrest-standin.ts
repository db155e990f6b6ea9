/**
 * A FirecREST v2 stand-in for tests: a real HTTP server (node:http) that follows the published API
 * (facts in ../shared/firecrest-v2.md) closely enough to test a client and the `picas firecrest` commands.
 *
 * - An OIDC token endpoint issuing expiring JWT-shaped tokens (firecrest-standin/auth.ts).
 * - Every 4xx/5xx has the v2 body `{errorType, message, causedBy, data, user}` (firecrest-standin/replies.ts);
 *   every answer carries the F7T-Timestamp, F7T-AppVersion and F7T-AuthUsername headers; request paths
 *   are lowercased.
 * - /status/systems; compute: submit, job, jobs, metadata, cancel, run through the local Slurm or bash
 *   (firecrest-standin/jobs.ts); filesystem: ls, mkdir, upload, download, view (firecrest-standin/file-system.ts).
 *   404 "System not found" as on the real server.
 * - Faults on demand: 401, 429 with Retry-After, 5xx before or after doing the work, slow answers
 *   (firecrest-standin/faults.ts), revoking every token issued so far, jobs that stay invisible (404)
 *   for a while after submit, and a job left out of the next job-list answers (leaveOutOfList).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { STANDIN_TOKEN_PATH, TokenIssuer } from './firecrest-standin/auth.js';
import { abortableSleep, FaultQueue, type InjectedFault } from './firecrest-standin/faults.js';
import { StandinFileSystem } from './firecrest-standin/file-system.js';
import { StandinJobs } from './firecrest-standin/jobs.js';
import { loginEnv, standinCanUseSlurm } from './firecrest-standin/processes.js';
import { failureReply, faultReply, HttpFailure, type Reply } from './firecrest-standin/replies.js';
import { readBody } from './firecrest-standin/request-body.js';

export { STANDIN_TOKEN_PATH } from './firecrest-standin/auth.js';
export type { InjectedFault } from './firecrest-standin/faults.js';
export { standinCanUseSlurm } from './firecrest-standin/processes.js';

const APP_VERSION = '2.5.0-picas-standin';

export interface FirecrestStandinOptions {
  /** the system's name (default `cluster`) */
  system?: string;
  /** the system's file system; paths outside it get 400 (default: a new temp dir, removed on close) */
  root?: string;
  clientId?: string;
  /** default: random */
  clientSecret?: string;
  /** lifetime of issued access tokens (default 300 s) */
  tokenLifetimeSeconds?: number;
  /** tokens with less time left are refused (default 30 s, as newer servers do) */
  minTokenSecondsLeft?: number;
  /** `auto` (default): Slurm when `sinfo` answers, else bash */
  runner?: 'auto' | 'slurm' | 'bash';
  /** a site's root path in front of the API, e.g. `/api/v2` */
  rootPath?: string;
  /** answer submits with a numeric jobId, as some docs show */
  numericJobIds?: boolean;
  /** a new job answers 404 for this long after its submit */
  jobVisibilityDelayMs?: number;
  /** the environment every job starts from before its own `env` (default: this process' env without PICAS_*, FIRECREST_*, AUTH_TOKEN_URL, SLURM_*) */
  baseEnv?: Record<string, string | undefined>;
  /** bash runner: time between SIGTERM and SIGKILL on cancel (default 10 s) */
  killWaitMs?: number;
}

export interface StandinRequest {
  method: string;
  path: string;
  status: number;
  /** the error message, for 4xx/5xx */
  message?: string;
}

export interface FirecrestStandin {
  /** FIRECREST_URL */
  url: string;
  /** AUTH_TOKEN_URL */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  system: string;
  root: string;
  runner: 'slurm' | 'bash';
  /** access tokens issued so far */
  readonly tokensIssued: number;
  /** every request answered, in order */
  readonly requests: readonly StandinRequest[];
  /** ids of the jobs submitted, in order */
  jobIds(): string[];
  /** FIRECREST_URL, AUTH_TOKEN_URL, FIRECREST_CLIENT_ID, FIRECREST_CLIENT_SECRET and FIRECREST_SYSTEM */
  env(): Record<string, string>;
  injectFault(fault: InjectedFault): void;
  clearFaults(): void;
  /** the next `answers` job-list answers (default 1) leave this job out; `GET` of the job alone still finds it */
  leaveOutOfList(jobId: string, answers?: number): void;
  /** every token issued so far is now expired (as if they had run out mid-run) */
  expireTokens(): void;
  /** cancels running jobs, stops the server and removes the temp root it made */
  close(): Promise<void>;
}

export async function startFirecrestStandin(options: FirecrestStandinOptions = {}): Promise<FirecrestStandin> {
  const system = (options.system ?? 'cluster').toLowerCase();
  const ownRoot = options.root === undefined;
  const root = realpathSync(options.root ?? mkdtempSync(join(tmpdir(), 'firecrest-standin-')));
  const clientId = options.clientId ?? 'picas-test-client';
  const clientSecret = options.clientSecret ?? randomBytes(18).toString('base64url');
  const rootPath = (options.rootPath ?? '').replace(/\/+$/, '').toLowerCase();
  const runner: 'slurm' | 'bash' = options.runner === 'slurm' ? 'slurm' : options.runner === 'bash' ? 'bash' : (await standinCanUseSlurm()) ? 'slurm' : 'bash';
  const user = userInfo().username;
  const auth = new TokenIssuer({ clientId, clientSecret, user, lifetimeSeconds: options.tokenLifetimeSeconds ?? 300, minLeftSeconds: options.minTokenSecondsLeft ?? 30 });
  const files = new StandinFileSystem({ system, root, user });
  const jobs = new StandinJobs({
    system,
    user,
    uid: process.getuid?.() ?? 0,
    runner,
    baseEnv: options.baseEnv ?? loginEnv(),
    killWaitMs: options.killWaitMs ?? 10_000,
    numericJobIds: options.numericJobIds,
    visibilityDelayMs: options.jobVisibilityDelayMs ?? 0,
  });
  const faults = new FaultQueue();
  const requests: StandinRequest[] = [];
  const closing = new AbortController();

  async function route(method: string, path: string, query: URLSearchParams, req: IncomingMessage, body: Buffer): Promise<Reply> {
    if (method === 'GET' && path === '/status/systems') return { status: 200, json: { systems: [systemModel(system, root, runner)] } };
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'compute' || parts[0] === 'filesystem') {
      if (parts[1] !== system) throw new HttpFailure(404, 'System not found');
    }
    let reply: Reply | undefined;
    if (parts[0] === 'compute' && parts[2] === 'jobs') reply = await jobs.answer(method, parts, query, body);
    if (parts[0] === 'filesystem' && parts[2] === 'ops') reply = files.answer(parts[3], method, query, req, body);
    if (!reply) throw new HttpFailure(404, 'Not Found');
    return reply;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://standin');
    // the real server lowercases request paths (not the query)
    let path = decodeURIComponent(url.pathname).toLowerCase().replace(/\/+$/, '') || '/';
    let reply: Reply;
    let username: string | null = null;
    try {
      const body = await readBody(req);
      if (method === 'POST' && path === STANDIN_TOKEN_PATH) {
        reply = auth.tokenEndpoint(req, body);
      } else {
        if (rootPath) {
          if (path !== rootPath && !path.startsWith(rootPath + '/')) throw new HttpFailure(404, 'Not Found');
          path = path.slice(rootPath.length) || '/';
        }
        const fault = faults.take(method, path);
        if (fault?.delayMs) await abortableSleep(fault.delayMs, closing.signal);
        if (fault?.status && fault.when !== 'after') {
          reply = faultReply(fault.status, fault.retryAfter);
        } else {
          username = auth.authenticate(req);
          reply = await route(method, path, url.searchParams, req, body);
          if (fault?.status && fault.when === 'after') reply = faultReply(fault.status, fault.retryAfter);
        }
      }
    } catch (err) {
      reply = failureReply(err, username);
    }
    const json = reply.json as { message?: string; error?: string } | undefined;
    requests.push({ method, path, status: reply.status, message: reply.status >= 400 ? (json?.message ?? json?.error) : undefined });
    const headers: Record<string, string> = { 'F7T-Timestamp': String(Math.floor(Date.now() / 1000)), 'F7T-AppVersion': APP_VERSION, ...(username ? { 'F7T-AuthUsername': username } : {}), ...reply.headers };
    if (reply.bytes) {
      res.writeHead(reply.status, { ...headers, 'content-length': String(reply.bytes.length) }).end(reply.bytes);
    } else if (reply.json !== undefined && reply.status !== 204) {
      const text = JSON.stringify(reply.json);
      res.writeHead(reply.status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }).end(text);
    } else {
      res.writeHead(reply.status, headers).end();
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const apiUrl = base + (options.rootPath ? options.rootPath.replace(/\/+$/, '') : '');

  return {
    url: apiUrl,
    tokenUrl: base + STANDIN_TOKEN_PATH,
    clientId,
    clientSecret,
    system,
    root,
    runner,
    get tokensIssued() {
      return auth.tokensIssued;
    },
    requests,
    jobIds: () => jobs.ids(),
    env: () => ({ FIRECREST_URL: apiUrl, AUTH_TOKEN_URL: base + STANDIN_TOKEN_PATH, FIRECREST_CLIENT_ID: clientId, FIRECREST_CLIENT_SECRET: clientSecret, FIRECREST_SYSTEM: system }),
    injectFault(fault) {
      faults.add(fault);
    },
    clearFaults() {
      faults.clear();
    },
    leaveOutOfList(jobId, answers) {
      jobs.leaveOutOfList(jobId, answers);
    },
    expireTokens() {
      auth.expireAll();
    },
    async close() {
      closing.abort();
      await jobs.stopAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownRoot) rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The one system of `/status/systems`. */
function systemModel(system: string, root: string, runner: 'slurm' | 'bash'): Record<string, unknown> {
  return {
    name: system,
    host: 'localhost',
    sshPort: 22,
    scheduler: { type: 'slurm', version: runner === 'slurm' ? 'local' : 'standin-bash', apiUrl: null, apiVersion: null },
    servicesHealth: [],
    probing: { interval: 60, timeout: 10, healthyLatency: 1.5, healthyLoad: 0.8, startupGracePeriod: 300 },
    fileSystems: [{ path: root, dataType: 'scratch', defaultWorkDir: true }],
    datatransferJobsDirectives: [],
    timeouts: { sshConnection: 5, sshLogin: 5, sshCommandExecution: 5 },
  };
}
