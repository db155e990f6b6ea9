/**
 * The stand-in's compute endpoints: submit (201 `{"jobId"}`), job, jobs, metadata, cancel (204).
 *
 * Jobs run through the local Slurm (`sbatch --parsable --export=ALL --chdir …`, status from
 * `scontrol show job`), or as local `bash` processes with their own job table (PENDING/RUNNING/COMPLETED/
 * FAILED/CANCELLED, exit codes; cancel sends SIGTERM to the process group). The job env reaches sbatch
 * through its process environment with `--export=ALL`, which is what the real server's `--export='ALL,K=V'`
 * achieves, without putting values (passwords) on a command line. A new job can stay invisible (404) for
 * a while after its submit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseJobSpec } from './job-spec.js';
import { run, signalGroup, signalNumber } from './processes.js';
import { HttpFailure, type Reply } from './replies.js';
import { parseJson } from './request-body.js';
import { sbatchDirectives, scontrolFields, slurmDate, slurmTimeSeconds } from './slurm-text.js';

export interface JobsOptions {
  system: string;
  user: string;
  /** the uid recorded as the canceller */
  uid: number;
  runner: 'slurm' | 'bash';
  /** the environment every job starts from before its own `env` */
  baseEnv: Record<string, string | undefined>;
  /** bash runner: time between SIGTERM and SIGKILL on cancel */
  killWaitMs: number;
  /** answer submits with a numeric jobId */
  numericJobIds?: boolean;
  /** a new job answers 404 for this long after its submit */
  visibilityDelayMs: number;
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

export class StandinJobs {
  private readonly jobs = new Map<string, StandinJob>();
  /** jobs the next list answers leave out (job id → how many answers) */
  private readonly leftOut = new Map<string, number>();
  private nextBashJobId = 1000 + Math.floor(Math.random() * 9000);

  constructor(private readonly options: JobsOptions) {}

  /** The next `answers` job-list answers leave this job out (a lookup of the job alone still finds it). */
  leaveOutOfList(jobId: string, answers = 1): void {
    this.leftOut.set(String(jobId), answers);
  }

  private listed(job: { id: string }): boolean {
    const left = this.leftOut.get(job.id);
    if (left === undefined) return true;
    if (left <= 1) this.leftOut.delete(job.id);
    else this.leftOut.set(job.id, left - 1);
    return false;
  }

  /** Ids of the jobs submitted, in order. */
  ids(): string[] {
    return [...this.jobs.keys()];
  }

  /** The answer to `/compute/{system}/jobs[/{id}[/metadata]]`, or undefined for a path or method it does not have. */
  async answer(method: string, parts: readonly string[], query: URLSearchParams, body: Buffer): Promise<Reply | undefined> {
    const id = parts[3];
    if (parts.length === 3 && method === 'POST') return this.submit(parseJson(body));
    if (parts.length === 3 && method === 'GET') {
      const name = query.get('name');
      const visible = [...this.jobs.values()].filter((j) => Date.now() >= j.visibleAt && (!name || j.name === name)).filter((j) => this.listed(j));
      const models: Record<string, unknown>[] = [];
      for (const job of visible) models.push(await this.jobModel(job).catch(() => this.model(job, { state: 'UNKNOWN', stateReason: 'None', exitCode: 0, interruptSignal: 0 }, {})));
      return { status: 200, json: { jobs: models } };
    }
    if (parts.length === 4 && id && method === 'GET') return { status: 200, json: { jobs: [await this.jobModel(this.visibleJob(id))] } };
    if (parts.length === 5 && id && parts[4] === 'metadata' && method === 'GET') {
      const job = this.visibleJob(id);
      return { status: 200, json: { jobs: [{ jobId: Number(job.id), script: job.script, standardInput: job.standardInput ?? null, standardOutput: job.standardOutput, standardError: job.standardError }] } };
    }
    if (parts.length === 4 && id && method === 'DELETE') {
      await this.cancel(this.visibleJob(id));
      return { status: 204 };
    }
    return undefined;
  }

  /** Cancels the jobs still running (Slurm: scancel; bash: SIGTERM, SIGKILL after 3 s) and waits for the bash ones. */
  async stopAll(): Promise<void> {
    const { runner, uid } = this.options;
    const active = [...this.jobs.values()].filter((j) => (runner === 'bash' ? j.child : j.cancelledBy === undefined));
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
    for (const job of this.jobs.values()) clearTimeout(job.killTimer);
  }

  private async submit(body: unknown): Promise<Reply> {
    const { runner, user, baseEnv } = this.options;
    const spec = parseJobSpec(body, user);
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
      visibleAt: now + this.options.visibilityDelayMs,
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
      job.id = String(this.nextBashJobId++);
      this.startBashJob(job, spec.env);
    }
    this.jobs.set(job.id, job);
    return { status: 201, json: { jobId: this.options.numericJobIds ? Number(job.id) : job.id } };
  }

  private startBashJob(job: StandinJob, env: Record<string, string>): void {
    const { user, baseEnv } = this.options;
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

  private async cancel(job: StandinJob): Promise<void> {
    job.cancelledBy = this.options.uid;
    if (this.options.runner === 'slurm') {
      const result = await run('scancel', [job.id], 30_000);
      if (result.code !== 0) throw new HttpFailure(500, result.stderr.trim() || `scancel failed (exit ${result.code})`);
      return;
    }
    const child = job.child;
    if (!child?.pid) return;
    signalGroup(child.pid, 'SIGTERM');
    job.killTimer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), this.options.killWaitMs);
  }

  /** The v2 Job model for one job. */
  private async jobModel(job: StandinJob): Promise<Record<string, unknown>> {
    if (this.options.runner === 'slurm') {
      const result = await run('scontrol', ['show', 'job', '-o', job.id], 15_000);
      if (result.code !== 0) throw new HttpFailure(404, 'Job not found.');
      const f = scontrolFields(result.stdout);
      const [exit, signal] = (f.ExitCode ?? '0:0').split(':').map(Number);
      let state = f.JobState ?? 'UNKNOWN';
      if (state === 'CANCELLED' && job.cancelledBy !== undefined) state = `CANCELLED by ${job.cancelledBy}`;
      const start = slurmDate(f.StartTime);
      const end = slurmDate(f.EndTime);
      return this.model(job, { state, stateReason: f.Reason ?? 'None', exitCode: exit ?? 0, interruptSignal: signal ?? 0 }, {
        elapsed: slurmTimeSeconds(f.RunTime) ?? 0,
        start: start ?? null,
        end: end ?? null,
        limit: slurmTimeSeconds(f.TimeLimit) ?? null,
      }, f.Partition, f.NodeList);
    }
    const elapsed = job.start ? Math.round(((job.end ?? Date.now()) - job.start) / 1000) : 0;
    return this.model(job, { state: job.state, stateReason: 'None', exitCode: job.exitCode, interruptSignal: job.interruptSignal }, {
      elapsed,
      start: job.start ? Math.floor(job.start / 1000) : null,
      end: job.end ? Math.floor(job.end / 1000) : null,
      limit: job.limitSeconds ?? null,
    }, job.partition ?? 'local', 'localhost');
  }

  private model(job: StandinJob, status: Record<string, unknown>, time: Record<string, unknown>, partition?: string, nodes?: string): Record<string, unknown> {
    const { system, user } = this.options;
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

  private visibleJob(id: string): StandinJob {
    const job = this.jobs.get(id);
    if (!job || Date.now() < job.visibleAt) throw new HttpFailure(404, 'Job not found.');
    return job;
  }
}
