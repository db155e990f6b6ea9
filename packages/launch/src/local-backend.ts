/**
 * Pilots as picas-worker processes on this machine, through the `PilotBackend` interface: submit = start
 * N workers (local-launcher.ts streams their output), list = their states, cancel = SIGTERM (their running
 * tokens go back to todo). Job ids are the workers' `w<index>`, numbered on across submits.
 */
import { localWorkerState } from './job-state-mapping.js';
import { launchLocal, type LocalLaunch, type LocalLaunchOptions } from './local-launcher.js';
import { isFinalPilotJobState, type CancelledPilots, type CancelRequest, type ListRequest, type PilotBackend, type PilotJob, type SubmitRequest, type SubmittedPilots } from './pilot-backend.js';

export type LocalBackendSettings = Omit<LocalLaunchOptions, 'count' | 'signal' | 'firstIndex'>;

export interface LocalSubmitted extends SubmittedPilots {
  /** the started workers: wait for them (`done`) or stop them */
  launch: LocalLaunch;
}

interface Started {
  launch: LocalLaunch;
  firstIndex: number;
  count: number;
}

export class LocalBackend implements PilotBackend {
  readonly kind = 'local';
  private readonly started: Started[] = [];
  private nextIndex = 1;

  constructor(private readonly settings: LocalBackendSettings) {}

  async submit(request: SubmitRequest = {}): Promise<LocalSubmitted> {
    const count = request.count ?? 1;
    const firstIndex = this.nextIndex;
    this.nextIndex += count;
    const launch = launchLocal({ ...this.settings, count, firstIndex, signal: request.signal });
    this.started.push({ launch, firstIndex, count });
    return { jobIds: indexes(firstIndex, count).map(jobIdOf), launch };
  }

  async list(request: ListRequest = {}): Promise<PilotJob[]> {
    const jobs: PilotJob[] = [];
    for (const { launch, firstIndex, count } of this.started) {
      for (const index of indexes(firstIndex, count)) {
        const exit = launch.exits.get(index);
        const state = localWorkerState(exit, launch.stopping.has(index));
        if (!request.all && isFinalPilotJobState(state)) continue;
        const rawState = !exit ? `running (pid ${launch.pids[index - firstIndex] ?? '?'})` : exit.startError ? `did not start: ${exit.startError}` : exit.signal ? `killed by ${exit.signal}` : `exited ${exit.exitCode}`;
        jobs.push({ jobId: jobIdOf(index), name: 'picas-worker', state, rawState, pid: launch.pids[index - firstIndex] });
      }
    }
    return jobs;
  }

  /** SIGTERM to the given workers (`w3`), or to all with no ids; a second cancel makes them exit at once. */
  async cancel(request: CancelRequest): Promise<CancelledPilots> {
    const wanted = new Set(request.jobIds);
    const cancelled: string[] = [];
    for (const { launch, firstIndex, count } of this.started) {
      const mine = indexes(firstIndex, count).filter((i) => !launch.exits.has(i) && (wanted.size === 0 || wanted.has(jobIdOf(i))));
      if (mine.length === 0) continue;
      launch.stop(wanted.size === 0 ? undefined : mine);
      cancelled.push(...mine.map(jobIdOf));
    }
    return { jobIds: cancelled };
  }
}

function indexes(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

function jobIdOf(index: number): string {
  return `w${index}`;
}
