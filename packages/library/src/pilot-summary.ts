/** What a `runPilot` pilot did, as it resolves. */
import type { WorkerSummary } from '@picas/worker';

export interface PilotSummary {
  /** the pilot's id (recorded on the tokens it claimed) */
  workerId: string;
  /** tokens claimed, and of those, dependents taken in the write that released them */
  claimed: number;
  taken: number;
  /** tokens whose work returned (done), threw (error), went back to todo (a stop, or --max-scrub), or were lost (lease lost) */
  done: number;
  failed: number;
  requeued: number;
  lost: number;
  wallMs: number;
  httpRequests: number;
  /** why it stopped: `no tokens left`, `aborted: ...`, `--max-time ...` */
  stopReason: string;
}

/** @internal */
export function pilotSummary(s: WorkerSummary): PilotSummary {
  return { workerId: s.worker, claimed: s.claimed, taken: s.taken, done: s.done, failed: s.failed, requeued: s.requeued, lost: s.lost, wallMs: s.wallMs, httpRequests: s.httpRequests, stopReason: s.stopReason };
}
