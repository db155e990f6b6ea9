/**
 * A FirecREST v2 stand-in for tests: a real HTTP server (node:http) that follows the published API
 * (facts in ../shared/firecrest-v2.md) closely enough to test a client and the `picas firecrest` commands.
 *
 * - An OIDC token endpoint (client credentials, form-encoded or HTTP Basic) issuing expiring JWT-shaped
 *   tokens. API calls without a token, with an expired or revoked one, or with one that has less than
 *   30 s left get 401 ("Access token expires too soon").
 * - Every 4xx/5xx has the v2 body `{errorType, message, causedBy, data, user}`; every answer carries the
 *   F7T-Timestamp, F7T-AppVersion and F7T-AuthUsername headers; request paths are lowercased.
 * - /status/systems; compute: submit (201 `{"jobId"}`), job, jobs, metadata, cancel (204);
 *   filesystem: ls, mkdir, upload (multipart `file`, 204, 413 over 5 MiB), download, view. Paths must be
 *   absolute and inside the system's file system (`root`), else 400. 404 "System not found" and
 *   "No such file or directory" as on the real server.
 * - Jobs run through the local Slurm (`sbatch --parsable --export=ALL --chdir …`, status from
 *   `scontrol show job`) when `sinfo` answers, else as local `bash` processes with their own job table
 *   (PENDING/RUNNING/COMPLETED/FAILED/CANCELLED, exit codes; cancel sends SIGTERM to the process group).
 *   The job env reaches sbatch through its process environment with `--export=ALL`, which is what the
 *   real server's `--export='ALL,K=V'` achieves, without putting values (passwords) on a command line.
 * - Faults on demand: 429 with Retry-After, 5xx before or after doing the work, slow answers,
 *   revoking every token issued so far, and jobs that stay invisible (404) for a while after submit.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, mkdirSync, openSync, readdirSync, readFileSync, lstatSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { basename, join, posix } from 'node:path';

export const STANDIN_TOKEN_PATH = '/auth/realms/standin/protocol/openid-connect/token';
const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
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

export interface InjectedFault {
  /** e.g. 429, 500, 502, 503; with `delayMs` and no status, the request is only slowed down */
  status?: number;
  /** how many matching requests it hits (default 1) */
  count?: number;
  /** the Retry-After header, in seconds (`"1"`) or as an HTTP date */
  retryAfter?: string;
  method?: string;
  /** hits only request paths containing this text (after lowercasing) */
  pathIncludes?: string;
  /** `before` (default): answer without doing anything; `after`: do the work, then answer with the fault */
  when?: 'before' | 'after';
  /** wait this long before answering */
  delayMs?: number;
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
  /** every token issued so far is now expired (as if they had run out mid-run) */
  expireTokens(): void;
  /** cancels running jobs, stops the server and removes the temp root it made */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  json?: unknown;
  bytes?: Buffer;
  headers?: Record<string, string>;
}

class HttpFailure extends Error {
  constructor(readonly status: number, message: string, readonly errorType: 'error' | 'validation' = 'error', readonly causedBy: string[] | null = null, readonly data: unknown = null) {
    super(message);
  }
}

interface StandinJob {
  id: string;
  name: string;
  user: string;
  account?: string;
  partition?: string;
  workingDirectory: string;
  script: string;
  scriptFile: string;
  standardInput?: string;
  standardOutput: string;
  standardError: string;
  submittedAt: number;
  visibleAt: number;
  /** set when cancelled through the API */
  cancelledBy?: number;
  // the bash runner's job table
  state: string;
  exitCode: number;
  interruptSignal: number;
  start?: number;
  end?: number;
  limitSeconds?: number;
  child?: ChildProcess;
  exited?: Promise<void>;
  killTimer?: NodeJS.Timeout;
}

let slurmCheck: Promise<boolean> | undefined;

/** True when a local Slurm answers (`sinfo` lists a usable node). Checked once per process. */
export function standinCanUseSlurm(): Promise<boolean> {
  slurmCheck ??= run('sinfo', ['-h', '-o', '%T'], 5_000).then(
    (r) => r.code === 0 && /idle|mix|alloc|completing/i.test(r.stdout),
    () => false,
  );
  return slurmCheck;
}

export async function startFirecrestStandin(options: FirecrestStandinOptions = {}): Promise<FirecrestStandin> {
  const system = (options.system ?? 'cluster').toLowerCase();
  const ownRoot = options.root === undefined;
  const root = realpathSync(options.root ?? mkdtempSync(join(tmpdir(), 'firecrest-standin-')));
  const clientId = options.clientId ?? 'picas-test-client';
  const clientSecret = options.clientSecret ?? randomBytes(18).toString('base64url');
  const lifetime = options.tokenLifetimeSeconds ?? 300;
  const minLeft = options.minTokenSecondsLeft ?? 30;
  const rootPath = (options.rootPath ?? '').replace(/\/+$/, '').toLowerCase();
  const runner: 'slurm' | 'bash' = options.runner === 'slurm' ? 'slurm' : options.runner === 'bash' ? 'bash' : (await standinCanUseSlurm()) ? 'slurm' : 'bash';
  const baseEnv = options.baseEnv ?? loginEnv();
  const killWaitMs = options.killWaitMs ?? 10_000;
  const signingKey = randomBytes(32);
  const user = userInfo().username;
  const uid = process.getuid?.() ?? 0;
  const jobs = new Map<string, StandinJob>();
  const requests: StandinRequest[] = [];
  let faults: Array<InjectedFault & { left: number }> = [];
  let tokensIssued = 0;
  let revokedUpTo = 0;
  let nextBashJobId = 1000 + Math.floor(Math.random() * 9000);
  const closing = new AbortController();

  // ---- tokens ----

  function issueToken(): string {
    tokensIssued++;
    const now = Math.floor(Date.now() / 1000);
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64({ iss: 'firecrest-standin', sub: user, preferred_username: user, client_id: clientId, iat: now, exp: now + lifetime, seq: tokensIssued, jti: randomBytes(6).toString('hex') });
    return `${header}.${payload}.${sign(`${header}.${payload}`)}`;
  }

  function sign(text: string): string {
    return createHmac('sha256', signingKey).update(text).digest('base64url');
  }

  /** The token's user, or an HttpFailure 401 saying what is wrong with it. */
  function authenticate(req: IncomingMessage): string {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new HttpFailure(401, 'Not authenticated: missing access token');
    const [h, p, s] = match[1]!.split('.');
    if (!h || !p || !s || !safeEqual(s, sign(`${h}.${p}`))) throw new HttpFailure(401, 'Invalid access token');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { exp: number; seq: number; sub: string };
    const left = claims.exp - Date.now() / 1000;
    if (left <= 0 || claims.seq <= revokedUpTo) throw new HttpFailure(401, 'Access token has expired');
    if (left < minLeft) throw new HttpFailure(401, 'Access token expires too soon');
    return claims.sub;
  }

  async function tokenEndpoint(req: IncomingMessage, body: Buffer): Promise<Reply> {
    const form = new URLSearchParams(body.toString('utf8'));
    let id = form.get('client_id') ?? undefined;
    let secret = form.get('client_secret') ?? undefined;
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return { status: 400, json: { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' } };
    }
    if (id !== clientId || secret === undefined || !safeEqual(secret, clientSecret)) {
      return { status: 401, json: { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' } };
    }
    return { status: 200, json: { access_token: issueToken(), expires_in: lifetime, refresh_expires_in: 0, token_type: 'Bearer', 'not-before-policy': 0, scope: 'profile email' } };
  }

  // ---- file system ----

  /** An absolute path inside the file system, or 400. */
  function checkPath(value: unknown, field: string): string {
    if (typeof value !== 'string' || value === '') throw new HttpFailure(400, `${field}: Field required`, 'validation');
    if (!value.startsWith('/')) throw new HttpFailure(400, `${field}: '${value}' is not an absolute path`, 'validation');
    const normal = posix.resolve(value);
    if (normal !== root && !normal.startsWith(root + '/')) {
      throw new HttpFailure(400, `${field}: '${value}' is not inside a file system of system '${system}' (${root})`, 'validation');
    }
    return normal;
  }

  function statOr404(path: string, command: string): Stats {
    try {
      return lstatSync(path);
    } catch {
      throw new HttpFailure(404, `${command}: cannot access '${path}': No such file or directory`);
    }
  }

  function entry(path: string): Record<string, unknown> {
    const st = lstatSync(path);
    return {
      name: basename(path),
      type: st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : '-',
      linkTarget: st.isSymbolicLink() ? readlinkSync(path) : null,
      user,
      group: user,
      permissions: permissionString(st.mode),
      lastModified: st.mtime.toISOString(),
      size: String(st.size),
    };
  }

  // ---- jobs ----

  function validateJob(body: unknown): Omit<StandinJob, 'id' | 'state' | 'exitCode' | 'interruptSignal' | 'submittedAt' | 'visibleAt' | 'scriptFile' | 'standardOutput' | 'standardError'> & { standardOutput?: string; standardError?: string; env: Record<string, string>; reservation?: string; constraints?: string; scriptPath?: string } {
    const job = (body as { job?: unknown })?.job;
    if (!job || typeof job !== 'object' || Array.isArray(job)) throw new HttpFailure(400, 'job: Field required', 'validation');
    const j = job as Record<string, unknown>;
    const problems: string[] = [];
    const wd = j.workingDirectory ?? j.working_directory;
    if (typeof wd !== 'string' || wd === '') problems.push('workingDirectory: Field required');
    else if (!wd.startsWith('/')) problems.push(`workingDirectory: '${wd}' must be an absolute path`);
    const hasScript = typeof j.script === 'string' && j.script !== '';
    const hasPath = typeof j.scriptPath === 'string' && j.scriptPath !== '';
    if (hasScript === hasPath) problems.push('exactly one of script or scriptPath must be given');
    if (hasPath && !(j.scriptPath as string).startsWith('/')) problems.push(`scriptPath: '${String(j.scriptPath)}' must be an absolute path`);
    const env: Record<string, string> = {};
    if (j.env !== undefined && j.env !== null) {
      if (typeof j.env !== 'object' || Array.isArray(j.env)) problems.push('env: must be an object of strings');
      else
        for (const [k, v] of Object.entries(j.env)) {
          if (typeof v !== 'string') problems.push(`env.${k}: must be a string`);
          else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) problems.push(`env: '${k}' is not a variable name`);
          else env[k] = v;
        }
    }
    for (const field of ['name', 'account', 'partition', 'reservation', 'standardInput', 'standardOutput', 'standardError', 'constraints']) {
      if (j[field] !== undefined && j[field] !== null && typeof j[field] !== 'string') problems.push(`${field}: must be a string`);
    }
    if (problems.length > 0) throw new HttpFailure(400, problems.join('; '), 'validation', null, problems);
    let script = j.script as string | undefined;
    if (hasPath) {
      const path = j.scriptPath as string;
      if (!existsSync(path)) throw new HttpFailure(400, `scriptPath: ${path}: No such file or directory`, 'validation');
      script = readFileSync(path, 'utf8');
    }
    return {
      name: (j.name as string | undefined) ?? '',
      user,
      account: j.account as string | undefined,
      partition: j.partition as string | undefined,
      reservation: j.reservation as string | undefined,
      constraints: j.constraints as string | undefined,
      workingDirectory: wd as string,
      script: script!,
      scriptPath: hasPath ? (j.scriptPath as string) : undefined,
      standardInput: j.standardInput as string | undefined,
      standardOutput: j.standardOutput as string | undefined,
      standardError: j.standardError as string | undefined,
      env,
    };
  }

  async function submit(body: unknown): Promise<Reply> {
    const spec = validateJob(body);
    if (!existsSync(spec.workingDirectory) || !statSync(spec.workingDirectory).isDirectory()) {
      throw new HttpFailure(500, `sbatch: error: chdir(${spec.workingDirectory}): No such file or directory`);
    }
    const scriptFile = spec.scriptPath ?? join(spec.workingDirectory, `.firecrest-job-${randomBytes(5).toString('hex')}.sh`);
    if (!spec.scriptPath) writeFileSync(scriptFile, spec.script, { mode: 0o700 });
    const directives = sbatchDirectives(spec.script);
    const name = spec.name || directives.get('job-name') || basename(scriptFile);
    const now = Date.now();
    const job: StandinJob = {
      ...spec,
      id: '',
      name,
      scriptFile,
      standardOutput: spec.standardOutput ?? directives.get('output') ?? 'slurm-%j.out',
      standardError: spec.standardError ?? directives.get('error') ?? spec.standardOutput ?? directives.get('output') ?? 'slurm-%j.out',
      submittedAt: now,
      visibleAt: now + (options.jobVisibilityDelayMs ?? 0),
      state: 'PENDING',
      exitCode: 0,
      interruptSignal: 0,
      limitSeconds: slurmTimeSeconds(directives.get('time')),
    };
    if (runner === 'slurm') {
      const args = ['--parsable', '--export=ALL', `--chdir=${spec.workingDirectory}`, `--job-name=${name}`];
      if (spec.account) args.push(`--account=${spec.account}`);
      if (spec.partition) args.push(`--partition=${spec.partition}`);
      if (spec.reservation) args.push(`--reservation=${spec.reservation}`);
      if (spec.constraints) args.push(`--constraint=${spec.constraints}`);
      if (spec.standardInput) args.push(`--input=${spec.standardInput}`);
      if (spec.standardOutput) args.push(`--output=${spec.standardOutput}`);
      if (spec.standardError) args.push(`--error=${spec.standardError}`);
      args.push(scriptFile);
      const result = await run('sbatch', args, 30_000, { ...baseEnv, ...spec.env }, spec.workingDirectory);
      if (result.code !== 0) throw new HttpFailure(500, result.stderr.trim() || `sbatch failed (exit ${result.code})`);
      job.id = result.stdout.trim().split(';')[0]!;
    } else {
      job.id = String(nextBashJobId++);
      startBashJob(job, spec.env);
    }
    jobs.set(job.id, job);
    return { status: 201, json: { jobId: options.numericJobIds ? Number(job.id) : job.id } };
  }

  function startBashJob(job: StandinJob, env: Record<string, string>): void {
    const expand = (p: string) => {
      const path = p.replace(/%j|%A/g, job.id).replace(/%x/g, job.name).replace(/%u/g, user).replace(/%a/g, '0').replace(/%%/g, '%');
      return path.startsWith('/') ? path : join(job.workingDirectory, path);
    };
    const out = openSync(expand(job.standardOutput), 'a');
    const err = job.standardError === job.standardOutput ? out : openSync(expand(job.standardError), 'a');
    const inFd = job.standardInput ? openSync(expand(job.standardInput), 'r') : 'ignore';
    let child: ChildProcess;
    try {
      child = spawn('bash', [job.scriptFile], { cwd: job.workingDirectory, env: { ...baseEnv, ...env }, detached: true, stdio: [inFd, out, err] });
    } finally {
      closeSync(out);
      if (err !== out) closeSync(err);
      if (typeof inFd === 'number') closeSync(inFd);
    }
    job.child = child;
    job.state = 'RUNNING';
    job.start = Date.now();
    job.exited = new Promise<void>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (job.end !== undefined) return resolve();
        clearTimeout(job.killTimer);
        job.end = Date.now();
        job.child = undefined;
        const signum = signal ? signalNumber(signal) : 0;
        job.interruptSignal = signum;
        job.exitCode = code ?? 128 + signum;
        job.state = job.cancelledBy !== undefined ? `CANCELLED by ${job.cancelledBy}` : code === 0 ? 'COMPLETED' : 'FAILED';
        resolve();
      };
      child.once('error', () => finish(127, null));
      child.once('exit', finish);
    });
  }

  async function cancel(job: StandinJob): Promise<void> {
    job.cancelledBy = uid;
    if (runner === 'slurm') {
      const result = await run('scancel', [job.id], 30_000);
      if (result.code !== 0) throw new HttpFailure(500, result.stderr.trim() || `scancel failed (exit ${result.code})`);
      return;
    }
    const child = job.child;
    if (!child?.pid) return;
    signalGroup(child.pid, 'SIGTERM');
    job.killTimer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), killWaitMs);
  }

  /** The v2 Job model for one job. */
  async function jobModel(job: StandinJob): Promise<Record<string, unknown>> {
    if (runner === 'slurm') {
      const result = await run('scontrol', ['show', 'job', '-o', job.id], 15_000);
      if (result.code !== 0) throw new HttpFailure(404, 'Job not found.');
      const f = scontrolFields(result.stdout);
      const [exit, signal] = (f.ExitCode ?? '0:0').split(':').map(Number);
      let state = f.JobState ?? 'UNKNOWN';
      if (state === 'CANCELLED' && job.cancelledBy !== undefined) state = `CANCELLED by ${job.cancelledBy}`;
      const start = slurmDate(f.StartTime);
      const end = slurmDate(f.EndTime);
      return model(job, { state, stateReason: f.Reason ?? 'None', exitCode: exit ?? 0, interruptSignal: signal ?? 0 }, {
        elapsed: slurmTimeSeconds(f.RunTime) ?? 0,
        start: start ?? null,
        end: end ?? null,
        limit: slurmTimeSeconds(f.TimeLimit) ?? null,
      }, f.Partition, f.NodeList);
    }
    const elapsed = job.start ? Math.round(((job.end ?? Date.now()) - job.start) / 1000) : 0;
    return model(job, { state: job.state, stateReason: 'None', exitCode: job.exitCode, interruptSignal: job.interruptSignal }, {
      elapsed,
      start: job.start ? Math.floor(job.start / 1000) : null,
      end: job.end ? Math.floor(job.end / 1000) : null,
      limit: job.limitSeconds ?? null,
    }, job.partition ?? 'local', 'localhost');
  }

  function model(job: StandinJob, status: Record<string, unknown>, time: Record<string, unknown>, partition?: string, nodes?: string): Record<string, unknown> {
    return {
      jobId: Number(job.id),
      name: job.name,
      status,
      tasks: [],
      time: { ...time, suspended: 0 },
      account: job.account ?? null,
      allocationNodes: 1,
      cluster: system,
      group: user,
      nodes: nodes ?? '',
      partition: partition ?? '',
      priority: 1,
      killRequestUser: job.cancelledBy !== undefined ? user : null,
      user: job.user,
      workingDirectory: job.workingDirectory,
    };
  }

  function visibleJob(id: string): StandinJob {
    const job = jobs.get(id);
    if (!job || Date.now() < job.visibleAt) throw new HttpFailure(404, 'Job not found.');
    return job;
  }

  // ---- routing ----

  async function route(method: string, path: string, query: URLSearchParams, req: IncomingMessage, body: Buffer): Promise<Reply> {
    if (method === 'GET' && path === '/status/systems') {
      return {
        status: 200,
        json: {
          systems: [
            {
              name: system,
              host: 'localhost',
              sshPort: 22,
              scheduler: { type: 'slurm', version: runner === 'slurm' ? 'local' : 'standin-bash', apiUrl: null, apiVersion: null },
              servicesHealth: [],
              probing: { interval: 60, timeout: 10, healthyLatency: 1.5, healthyLoad: 0.8, startupGracePeriod: 300 },
              fileSystems: [{ path: root, dataType: 'scratch', defaultWorkDir: true }],
              datatransferJobsDirectives: [],
              timeouts: { sshConnection: 5, sshLogin: 5, sshCommandExecution: 5 },
            },
          ],
        },
      };
    }
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'compute' || parts[0] === 'filesystem') {
      if (parts[1] !== system) throw new HttpFailure(404, 'System not found');
    }
    if (parts[0] === 'compute' && parts[2] === 'jobs') {
      const id = parts[3];
      if (parts.length === 3 && method === 'POST') return submit(parseJson(body));
      if (parts.length === 3 && method === 'GET') {
        const name = query.get('name');
        const visible = [...jobs.values()].filter((j) => Date.now() >= j.visibleAt && (!name || j.name === name));
        const models: Record<string, unknown>[] = [];
        for (const job of visible) models.push(await jobModel(job).catch(() => model(job, { state: 'UNKNOWN', stateReason: 'None', exitCode: 0, interruptSignal: 0 }, {})));
        return { status: 200, json: { jobs: models } };
      }
      if (parts.length === 4 && id && method === 'GET') return { status: 200, json: { jobs: [await jobModel(visibleJob(id))] } };
      if (parts.length === 5 && id && parts[4] === 'metadata' && method === 'GET') {
        const job = visibleJob(id);
        return { status: 200, json: { jobs: [{ jobId: Number(job.id), script: job.script, standardInput: job.standardInput ?? null, standardOutput: job.standardOutput, standardError: job.standardError }] } };
      }
      if (parts.length === 4 && id && method === 'DELETE') {
        await cancel(visibleJob(id));
        return { status: 204 };
      }
    }
    if (parts[0] === 'filesystem' && parts[2] === 'ops') {
      const op = parts[3];
      if (op === 'ls' && method === 'GET') {
        const dir = checkPath(query.get('path'), 'path');
        const st = statOr404(dir, 'ls');
        const showHidden = query.get('showHidden') === 'true';
        const names = st.isDirectory() ? readdirSync(dir).filter((n) => showHidden || !n.startsWith('.')).sort() : [];
        return { status: 200, json: { output: st.isDirectory() ? names.map((n) => entry(join(dir, n))) : [entry(dir)] } };
      }
      if (op === 'mkdir' && method === 'POST') {
        const b = parseJson(body) as { sourcePath?: unknown; parent?: unknown };
        const dir = checkPath(b?.sourcePath, 'sourcePath');
        if (b.parent === true) mkdirSync(dir, { recursive: true });
        else {
          if (existsSync(dir)) throw new HttpFailure(400, `mkdir: cannot create directory '${dir}': File exists`);
          if (!existsSync(posix.dirname(dir))) throw new HttpFailure(404, `mkdir: cannot create directory '${dir}': No such file or directory`);
          mkdirSync(dir);
        }
        return { status: 201, json: { output: entry(dir) } };
      }
      if (op === 'upload' && method === 'POST') {
        const dir = checkPath(query.get('path'), 'path');
        if (!statOr404(dir, 'upload').isDirectory()) throw new HttpFailure(400, `upload: '${dir}' is not a directory`);
        const file = multipartFile(req.headers['content-type'], body);
        if (!file) throw new HttpFailure(400, 'file: Field required', 'validation');
        if (file.content.length > MAX_UPLOAD_BYTES) throw new HttpFailure(413, 'File is too large for a direct upload (over 5 MiB): use a transfer job');
        if (!file.name || file.name.includes('/') || file.name === '.' || file.name === '..') throw new HttpFailure(400, `file: '${file.name}' is not a file name`, 'validation');
        writeFileSync(join(dir, file.name), file.content);
        return { status: 204 };
      }
      if (op === 'download' && method === 'GET') {
        const file = checkPath(query.get('path'), 'path');
        if (statOr404(file, 'download').isDirectory()) throw new HttpFailure(400, `download: '${file}' is a directory`);
        return { status: 200, bytes: readFileSync(file), headers: { 'content-type': 'application/octet-stream' } };
      }
      if (op === 'view' && method === 'GET') {
        const file = checkPath(query.get('path'), 'path');
        if (statOr404(file, 'view').isDirectory()) throw new HttpFailure(400, `view: '${file}' is a directory`);
        const offset = Number(query.get('offset') ?? 0);
        const size = Number(query.get('size') ?? MAX_UPLOAD_BYTES);
        if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(size) || size < 0) throw new HttpFailure(400, 'size and offset must be whole numbers', 'validation');
        const bytes = readFileSync(file).subarray(offset, offset + size);
        return { status: 200, json: { output: bytes.toString('utf8') } };
      }
    }
    throw new HttpFailure(404, 'Not Found');
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
        reply = await tokenEndpoint(req, body);
      } else {
        if (rootPath) {
          if (path !== rootPath && !path.startsWith(rootPath + '/')) throw new HttpFailure(404, 'Not Found');
          path = path.slice(rootPath.length) || '/';
        }
        const fault = takeFault(method, path);
        if (fault?.delayMs) await abortableSleep(fault.delayMs, closing.signal);
        if (fault?.status && fault.when !== 'after') {
          reply = faultReply(fault);
        } else {
          username = authenticate(req);
          reply = await route(method, path, url.searchParams, req, body);
          if (fault?.status && fault.when === 'after') reply = faultReply(fault);
        }
      }
    } catch (err) {
      const failure = err instanceof HttpFailure ? err : new HttpFailure(500, `internal error: ${(err as Error).message}`);
      reply = { status: failure.status, json: { errorType: failure.errorType, message: failure.message, causedBy: failure.causedBy, data: failure.data, user: username } };
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

  function takeFault(method: string, path: string): InjectedFault | undefined {
    const fault = faults.find((f) => f.left > 0 && (!f.method || f.method.toUpperCase() === method) && (!f.pathIncludes || path.includes(f.pathIncludes.toLowerCase())));
    if (!fault) return undefined;
    fault.left--;
    faults = faults.filter((f) => f.left > 0);
    return fault;
  }

  function faultReply(fault: InjectedFault): Reply {
    const status = fault.status!;
    const message = status === 429 ? 'Too Many Requests' : status === 503 ? 'Service Unavailable' : status === 504 ? 'Gateway Timeout' : status === 502 ? 'Bad Gateway' : 'Internal Server Error';
    return { status, json: { errorType: 'error', message, causedBy: null, data: null, user: null }, headers: fault.retryAfter !== undefined ? { 'Retry-After': fault.retryAfter } : undefined };
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
      return tokensIssued;
    },
    requests,
    jobIds: () => [...jobs.keys()],
    env: () => ({ FIRECREST_URL: apiUrl, AUTH_TOKEN_URL: base + STANDIN_TOKEN_PATH, FIRECREST_CLIENT_ID: clientId, FIRECREST_CLIENT_SECRET: clientSecret, FIRECREST_SYSTEM: system }),
    injectFault(fault) {
      faults.push({ ...fault, left: fault.count ?? 1 });
    },
    clearFaults() {
      faults = [];
    },
    expireTokens() {
      revokedUpTo = tokensIssued;
    },
    async close() {
      closing.abort();
      const active = [...jobs.values()].filter((j) => (runner === 'bash' ? j.child : j.cancelledBy === undefined));
      if (runner === 'slurm' && active.length > 0) await run('scancel', active.map((j) => j.id), 30_000).catch(() => undefined);
      for (const job of active) {
        if (runner === 'bash' && job.child?.pid) {
          job.cancelledBy = uid;
          signalGroup(job.child.pid, 'SIGTERM');
          const killer = setTimeout(() => job.child?.pid && signalGroup(job.child.pid, 'SIGKILL'), 3_000);
          await job.exited;
          clearTimeout(killer);
        }
      }
      for (const job of jobs.values()) clearTimeout(job.killTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownRoot) rmSync(root, { recursive: true, force: true });
    },
  };
}

// ---- helpers ----

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpFailure(400, 'body: Invalid JSON', 'validation');
  }
}

/** The request body, up to a little over the upload limit (a longer one is cut off and answered with 413). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_UPLOAD_BYTES + 64 * 1024) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => (tooLarge ? reject(new HttpFailure(413, 'Request body is too large (over 5 MiB)')) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** The multipart field `file`: its filename and content. */
function multipartFile(contentType: string | undefined, body: Buffer): { name: string; content: Buffer } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const headerStart = start + delimiter.length + 2;
    const next = body.indexOf(delimiter, headerStart);
    if (next === -1) break;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd !== -1 && headerEnd < next) {
      const headers = body.subarray(headerStart, headerEnd).toString('utf8');
      const disposition = /content-disposition:[^\r\n]*\bname="([^"]*)"(?:[^\r\n]*\bfilename="([^"]*)")?/i.exec(headers);
      if (disposition?.[1] === 'file') {
        return { name: disposition[2] ?? '', content: body.subarray(headerEnd + 4, next - 2) };
      }
    }
    start = next;
  }
  return undefined;
}

/** `#SBATCH --output=…` style directives of a script (long names; -o, -e and -J too). */
function sbatchDirectives(script: string): Map<string, string> {
  const short: Record<string, string> = { o: 'output', e: 'error', J: 'job-name', t: 'time', p: 'partition', A: 'account' };
  const out = new Map<string, string>();
  for (const line of script.split('\n')) {
    const long = /^#SBATCH\s+--([a-z-]+)(?:=|\s+)(\S+)/.exec(line);
    if (long) out.set(long[1]!, long[2]!);
    const brief = /^#SBATCH\s+-([a-zA-Z])\s*(\S+)/.exec(line);
    if (brief && short[brief[1]!]) out.set(short[brief[1]!]!, brief[2]!);
  }
  return out;
}

/** Slurm times (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`) in seconds; UNLIMITED and unknowns are undefined. */
function slurmTimeSeconds(text: string | undefined): number | undefined {
  if (!text || !/^[\d:-]+$/.test(text)) return undefined;
  const [daysPart, rest] = text.includes('-') ? text.split('-') : [undefined, text];
  const days = daysPart ? Number(daysPart) : 0;
  const nums = (rest ?? '').split(':').map(Number);
  let h = 0, m = 0, s = 0;
  if (daysPart !== undefined) [h = 0, m = 0, s = 0] = nums;
  else if (nums.length === 1) [m = 0] = nums;
  else if (nums.length === 2) [m = 0, s = 0] = nums;
  else [h = 0, m = 0, s = 0] = nums;
  const total = ((days * 24 + h) * 60 + m) * 60 + s;
  return Number.isFinite(total) ? total : undefined;
}

function slurmDate(text: string | undefined): number | undefined {
  if (!text || !/^\d{4}-\d\d-\d\dT/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** `scontrol show job -o` prints one line of Key=Value pairs. */
function scontrolFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] ??= pair.slice(eq + 1);
  }
  return out;
}

function permissionString(mode: number): string {
  const chars = 'rwxrwxrwx';
  let out = '';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? chars[i] : '-';
  return out;
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** A login-shell-like environment: this process' env without picas, FirecREST and Slurm settings. */
function loginEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PICAS_') || k.startsWith('FIRECREST_') || k === 'AUTH_TOKEN_URL' || k.startsWith('SLURM_')) continue;
    env[k] = v;
  }
  return env;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Runs a command with a time limit; never rejects for a non-zero exit (ENOENT rejects). */
function run(file: string, args: readonly string[], timeoutMs: number, env?: Record<string, string | undefined>, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, env: env as NodeJS.ProcessEnv | undefined, cwd, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(err);
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
