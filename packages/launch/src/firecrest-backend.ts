/**
 * Pilots as FirecREST v2 jobs, through the `PilotBackend` interface: submit = one job per pilot (the one
 * pilot script; the CouchDB settings and worker options in the job's `env`, never in the script), after
 * uploading the self-contained picas-worker if it is not there yet; list = the remembered pilots' states
 * from FirecREST; cancel = DELETE. Submitted pilots are remembered in a local state file (no secrets), see
 * @picas/firecrest's submitted-pilots.ts. Progress lines go to `note`.
 */
import { redactUrl, UsageError, type ConnectionConfig } from '@picas/core';
import {
  addPilots,
  FirecrestClient,
  FirecrestError,
  isFirecrestNotFound,
  readPilots,
  updatePilots,
  type FirecrestConfig,
  type JobState,
  type JobSubmission,
  type RetryInfo,
  type SubmittedPilot,
} from '@picas/firecrest';
import { readJobStates } from './firecrest-job-states.js';
import { firecrestJobState } from './job-state-mapping.js';
import { isFinalPilotJobState, type CancelledPilots, type CancelRequest, type ListRequest, type PilotBackend, type PilotJob, type SubmitRequest, type SubmittedPilots } from './pilot-backend.js';
import { describePilotEnvironment, type PilotEnvironment } from './pilot-env.js';
import { renderPilotScript, type PilotScriptOptions } from './pilot-script.js';
import type { PilotWorker } from './pilot-worker.js';
import { kib } from './worker-bundle.js';

/** `NOT_FOUND`: FirecREST no longer knows the job (finished long ago, or never started). */
export type FirecrestJobState = JobState | 'NOT_FOUND';

/** A FirecREST state after which the job never runs again; NOT_FOUND counts as finished. */
export function isFinishedFirecrestState(state: string | undefined): boolean {
  if (state === undefined) return false;
  return state === 'NOT_FOUND' || isFinalPilotJobState(firecrestJobState(state as JobState));
}

export interface FirecrestSubmission {
  /** the system to submit to (FIRECREST_SYSTEM) */
  system: string;
  /** the jobs' working directory on the cluster, absolute */
  workdir: string;
  script: PilotScriptOptions;
  pilot: PilotEnvironment;
  worker: PilotWorker;
  /** the CouchDB the pilots work on, remembered without credentials */
  connection: ConnectionConfig;
}

export interface FirecrestBackendSettings {
  config: FirecrestConfig;
  /** where submitted pilots are remembered */
  stateFile: string;
  /** list and cancel: only pilots on this system (any case) */
  system?: string;
  /** what submit sends */
  submission?: FirecrestSubmission;
  /** progress lines: uploads, partial failures, retries */
  note?: (line: string) => void;
  /** each job id as soon as it is submitted */
  onSubmitted?: (jobId: string) => void;
  /** each job id as soon as it is cancelled */
  onCancelled?: (jobId: string) => void;
}

export interface FirecrestPilotJob extends PilotJob {
  /** the remembered submit */
  record: SubmittedPilot;
  /** FirecREST's (Slurm's) state name, as `status` remembers it */
  schedulerState: FirecrestJobState;
  exitCode?: number;
}

export interface FirecrestStatus {
  jobs: FirecrestPilotJob[];
  /** pilots remembered for this FirecREST (and system) */
  remembered: number;
  /** pilots remembered for another FIRECREST_URL, not shown */
  elsewhere: number;
}

export interface FirecrestSubmitted extends SubmittedPilots {
  system: string;
  workingDirectory: string;
  stateFile: string;
  /** the staged picas-worker, when one is used */
  workerBundle?: { path: string; bytes: number; uploaded: boolean };
}

const NOT_FOUND_TEXT = 'not found (finished long ago, or never started)';

export class FirecrestBackend implements PilotBackend {
  readonly kind = 'firecrest';
  private openClient?: FirecrestClient;

  constructor(private readonly settings: FirecrestBackendSettings) {}

  /** where the submitted pilots are remembered */
  get stateFile(): string {
    return this.settings.stateFile;
  }

  private note(line: string): void {
    this.settings.note?.(`picas firecrest: ${line}`);
  }

  private get client(): FirecrestClient {
    this.openClient ??= new FirecrestClient({
      url: this.settings.config.url,
      auth: this.settings.config,
      onRetry: (info: RetryInfo) => this.note(`${info.request}: ${info.reason}; trying again in ${(info.delayMs / 1000).toFixed(1)} s`),
    });
    return this.openClient;
  }

  private get submission(): FirecrestSubmission {
    if (!this.settings.submission) throw new Error('FirecrestBackend: submit needs settings.submission');
    return this.settings.submission;
  }

  /** The job every pilot is submitted as. */
  job(): JobSubmission & { workingDirectory: string; name?: string } {
    const sub = this.submission;
    return {
      script: renderPilotScript(sub.script),
      workingDirectory: sub.workdir,
      // PICAS_LAUNCHER: the pilot records say how the pilot was started (see worker pilot-record.ts)
      env: { ...sub.pilot.env, PICAS_LAUNCHER: `firecrest ${sub.system}` },
      name: sub.script.jobName,
      account: this.settings.config.account,
      partition: sub.script.partition,
    };
  }

  /** What a dry run shows: the script (for stdout) and the lines describing the rest, secrets masked. */
  dryRun(count: number): { script: string; notes: string[] } {
    const sub = this.submission;
    const job = this.job();
    const { bundle, stagedPath } = sub.worker;
    const notes = [
      `# dry run: nothing submitted. Would submit ${count} job${count === 1 ? '' : 's'} on system ${sub.system} with:`,
      `#   workingDirectory=${job.workingDirectory} name=${job.name}${job.account ? ` account=${job.account}` : ''}${job.partition ? ` partition=${job.partition}` : ''}`,
      ...describePilotEnvironment(sub.pilot).map((line) => `#   env ${line}`),
      ...(bundle ? [`# and first upload ${bundle.path} (${kib(bundle.bytes.length)}) as ${stagedPath}, unless it is there already`] : []),
    ];
    return { script: job.script!, notes };
  }

  async submit(request: SubmitRequest = {}): Promise<FirecrestSubmitted> {
    const sub = this.submission;
    const count = request.count ?? 1;
    const job = this.job();
    const { bundle, stagedPath } = sub.worker;
    const client = this.client;
    await client.mkdir(sub.system, sub.workdir, { parent: true, signal: request.signal });
    const uploaded = bundle ? await this.stageBundle(request.signal) : false;
    const jobIds: string[] = [];
    for (let i = 0; i < count; i++) {
      let jobId: string;
      try {
        jobId = await client.submitJob(sub.system, job, { signal: request.signal });
      } catch (err) {
        if (jobIds.length > 0) this.note(`${jobIds.length} of ${count} pilots were submitted before the failure: ${jobIds.join(' ')}`);
        throw err;
      }
      jobIds.push(jobId);
      addPilots(this.settings.stateFile, [
        {
          jobId,
          system: sub.system,
          firecrestUrl: this.settings.config.url,
          name: job.name ?? '',
          workingDirectory: job.workingDirectory,
          submittedAt: new Date().toISOString(),
          database: `${redactUrl(sub.connection.url)}/${sub.connection.db}`,
        },
      ]);
      this.settings.onSubmitted?.(jobId);
    }
    return {
      jobIds,
      system: sub.system,
      workingDirectory: sub.workdir,
      stateFile: this.settings.stateFile,
      ...(bundle ? { workerBundle: { path: stagedPath!, bytes: bundle.bytes.length, uploaded } } : {}),
    };
  }

  /**
   * Uploads the self-contained picas-worker into the working directory as picas-worker-<sha8>.mjs, unless a
   * file of that name and size is there already (the name is the content's hash). True when it uploaded.
   */
  private async stageBundle(signal?: AbortSignal): Promise<boolean> {
    const { system, workdir, worker } = this.submission;
    const bundle = worker.bundle!;
    const remote = worker.stagedPath!;
    try {
      const [entry] = await this.client.ls(system, remote, { signal });
      if (entry && entry.type === '-' && Number(entry.size) === bundle.bytes.length) {
        this.note(`picas-worker is already on ${system} (${remote})`);
        return false;
      }
    } catch (err) {
      if (!isFirecrestNotFound(err)) throw err;
    }
    await this.client.upload(system, workdir, bundle.stagedName, bundle.bytes, { signal });
    this.note(`uploaded picas-worker (${kib(bundle.bytes.length)}) to ${remote}`);
    return true;
  }

  private onThisSystem(p: SubmittedPilot): boolean {
    const system = this.settings.system;
    return !system || p.system.toLowerCase() === system.toLowerCase();
  }

  /**
   * The remembered pilots' states (unfinished ones only unless `all`), asked from FirecREST (one job-list
   * call per system; a job the list leaves out is looked up alone: firecrest-job-states.ts), and remembered
   * again so that finished pilots are not asked about again. Undefined when `signal` aborted it.
   */
  async status(request: ListRequest = {}): Promise<FirecrestStatus | undefined> {
    const url = this.settings.config.url;
    const everything = readPilots(this.settings.stateFile);
    const here = everything.filter((p) => p.firecrestUrl === url && this.onThisSystem(p));
    const elsewhere = everything.filter((p) => p.firecrestUrl !== url).length;
    const asked = here.filter((p) => request.all || !isFinishedFirecrestState(p.lastState));
    // finished pilots are not asked about again; the others in one job-list call per system
    const open = asked.filter((p) => !isFinishedFirecrestState(p.lastState));
    const states = open.length > 0 ? await readJobStates(this.client, open, request.signal) : [];
    if (!states) return undefined;
    const remote = new Map(open.map((record, i) => [record, states[i]!]));
    const jobs: FirecrestPilotJob[] = asked.map((record) => {
      const now = remote.get(record);
      if (!now) return pilotJob(record, record.lastState as FirecrestJobState, record.lastState!, record.exitCode);
      return now.state === 'NOT_FOUND' ? pilotJob(record, 'NOT_FOUND', NOT_FOUND_TEXT) : pilotJob(record, now.state, now.rawState ?? now.state, now.exitCode);
    });
    if (jobs.length > 0) {
      const seen = new Map(jobs.map((j) => [`${j.record.system} ${j.jobId}`, j]));
      updatePilots(this.settings.stateFile, (pilots) =>
        pilots.map((p) => {
          const j = p.firecrestUrl === url ? seen.get(`${p.system} ${p.jobId}`) : undefined;
          return j ? { ...p, lastState: j.schedulerState, exitCode: j.exitCode } : p;
        }),
      );
    }
    return { jobs, remembered: here.length, elsewhere };
  }

  /** The remembered pilots FirecREST still knows (with `all`, also the finished and forgotten ones). */
  async list(request: ListRequest = {}): Promise<FirecrestPilotJob[]> {
    const jobs = (await this.status(request))?.jobs ?? [];
    return request.all ? jobs : jobs.filter((j) => !isFinishedFirecrestState(j.schedulerState));
  }

  /**
   * Cancels the given jobs (a job that is not remembered needs `system`), or with no ids every remembered
   * pilot that has not finished. Tries every job; the failures are thrown together at the end.
   */
  async cancel(request: CancelRequest): Promise<CancelledPilots> {
    const all = request.jobIds.length === 0;
    const pilots = readPilots(this.settings.stateFile).filter((p) => p.firecrestUrl === this.settings.config.url);
    let targets: Array<{ jobId: string; system: string; submittedAt?: number }>;
    if (all) {
      targets = pilots
        .filter((p) => this.onThisSystem(p) && !isFinishedFirecrestState(p.lastState))
        .map((p) => ({ jobId: p.jobId, system: p.system, submittedAt: Date.parse(p.submittedAt) }));
    } else {
      const missingSystem: string[] = [];
      targets = request.jobIds.map((id) => {
        const known = pilots.find((p) => p.jobId === id && this.onThisSystem(p));
        const system = known?.system ?? this.settings.system ?? this.settings.config.system;
        if (!system) missingSystem.push(id);
        return { jobId: id, system: system ?? '', submittedAt: known ? Date.parse(known.submittedAt) : undefined };
      });
      if (missingSystem.length > 0) throw new UsageError(`job ${missingSystem.join(' ')}: not a remembered pilot, so give its system (--system or FIRECREST_SYSTEM)`);
    }
    if (targets.length === 0) {
      this.note('no unfinished pilots to cancel');
      return { jobIds: [] };
    }
    const cancelled: string[] = [];
    const failures: Array<{ jobId: string; err: unknown }> = [];
    for (const target of targets) {
      if (all) {
        // skip pilots that finished since the last status
        const job = await this.client.job(target.system, target.jobId, { submittedAt: target.submittedAt, signal: request.signal }).catch(() => undefined);
        if (job && isFinishedFirecrestState(job.state)) continue;
      }
      try {
        await this.client.cancelJob(target.system, target.jobId, { signal: request.signal });
        cancelled.push(target.jobId);
        this.settings.onCancelled?.(target.jobId);
      } catch (err) {
        failures.push({ jobId: target.jobId, err });
      }
    }
    if (failures.length > 0) {
      const lines = failures.map((f) => `${f.jobId}: ${(f.err as Error).message}`);
      const cause = failures.length === 1 ? failures[0]!.err : new AggregateError(failures.map((f) => f.err));
      throw new FirecrestError(failures.length === 1 ? `cannot cancel job ${lines[0]}` : `cannot cancel ${failures.length} jobs: ${lines.join('; ')}`, {}, { cause });
    }
    return { jobIds: cancelled };
  }

  /** Closes the FirecREST connection (and its token renewal), if one was opened. */
  async close(): Promise<void> {
    await this.openClient?.close();
    this.openClient = undefined;
  }
}

function pilotJob(record: SubmittedPilot, schedulerState: FirecrestJobState, rawState: string, exitCode?: number): FirecrestPilotJob {
  return { jobId: record.jobId, name: record.name, state: firecrestJobState(schedulerState), rawState, record, schedulerState, exitCode };
}
