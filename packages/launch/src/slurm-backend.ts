/**
 * Pilots as Slurm jobs, through the `PilotBackend` interface: submit = one sbatch (an array job for
 * several pilots) after staging the self-contained picas-worker if asked; list = squeue; cancel = scancel.
 */
import { cancelPilotJobs } from './scancel.js';
import { planSlurmSubmission, submitSlurmPilots, type SlurmPlan, type SlurmSubmission, type SlurmSubmitResult } from './sbatch.js';
import { listSqueueRows, type SqueueRow } from './squeue.js';
import { slurmJobState } from './job-state-mapping.js';
import type { CancelledPilots, CancelRequest, ListRequest, PilotBackend, PilotJob, SubmitRequest, SubmittedPilots } from './pilot-backend.js';
import { DEFAULT_JOB_NAME } from './pilot-script.js';
import { stageWorkerBundle, type StagedCopy, type WorkerBundle } from './worker-bundle.js';

export interface SlurmBackendSettings {
  /** how list and cancel find the pilots (default picas-pilot); a submission's job name wins */
  jobName?: string;
  /** what sbatch gets (needed by submit only) */
  submission?: SlurmSubmission;
  /** copy the self-contained picas-worker into this directory before submitting */
  stage?: { bundle: WorkerBundle; dir: string };
  /** list: every user's pilots, not only this user's */
  allUsers?: boolean;
  /** told what was staged */
  onStaged?: (copy: StagedCopy, bundle: WorkerBundle) => void;
}

export interface SlurmPilotJob extends PilotJob {
  /** the row as squeue printed it */
  squeue: SqueueRow;
}

export interface SlurmSubmitted extends SubmittedPilots, SlurmSubmitResult {}

export class SlurmBackend implements PilotBackend {
  readonly kind = 'slurm';
  private checkedPlan?: SlurmPlan;

  constructor(private readonly settings: SlurmBackendSettings) {}

  private get jobName(): string {
    return this.settings.submission?.script.jobName ?? this.settings.jobName ?? DEFAULT_JOB_NAME;
  }

  private get submission(): SlurmSubmission {
    if (!this.settings.submission) throw new Error('SlurmBackend: submit needs settings.submission');
    return this.settings.submission;
  }

  /** The checked submission (sbatch's arguments, the script), for a dry run; throws UsageError on bad options. */
  plan(): SlurmPlan {
    this.checkedPlan ??= planSlurmSubmission(this.submission);
    return this.checkedPlan;
  }

  /** Without an --array of its own, `count` pilots become the array tasks 1-count. */
  async submit(request: SubmitRequest = {}): Promise<SlurmSubmitted> {
    const { submission } = this;
    const { stage } = this.settings;
    const script = submission.script.array === undefined && request.count !== undefined && request.count > 1 ? { ...submission.script, array: `1-${request.count}` } : submission.script;
    if (stage) this.settings.onStaged?.(stageWorkerBundle(stage.bundle, stage.dir), stage.bundle);
    const result = await submitSlurmPilots({ ...submission, script, signal: request.signal ?? submission.signal });
    return { ...result, jobIds: [result.jobId] };
  }

  /** The pilots with this job name (or the given job ids) that squeue still shows. */
  async list(request: ListRequest & { jobIds?: readonly string[] } = {}): Promise<SlurmPilotJob[]> {
    const rows = await listSqueueRows({ jobName: this.jobName, jobIds: request.jobIds, all: request.all, user: this.settings.allUsers ? '' : undefined, signal: request.signal });
    return rows.map((row) => ({ jobId: row.jobId, name: row.name, state: slurmJobState(row.state), rawState: row.state, squeue: row }));
  }

  /** The given jobs, or (no ids) every pilot of this user with this job name. */
  async cancel(request: CancelRequest): Promise<CancelledPilots> {
    await cancelPilotJobs({ jobIds: request.jobIds, jobName: this.jobName, signal: request.signal });
    return { jobIds: [...request.jobIds] };
  }
}
