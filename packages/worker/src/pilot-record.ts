/**
 * The pilot's own record (`pilot:<worker id>`, see @picas/core pilot.ts): written at start, renewed on its
 * own timer every third of the lease (never per token, so the claim path pays nothing), with its counts and
 * how many of its tokens run now (and their shapes) and how many it claimed ahead (for `picas status` and the
 * dashboard), with what the pilot has (cpus, gpus, mem), and written at exit
 * with the state, the stop reason and the summary.
 *
 * A record write never stops token work: it runs beside the pilot loop, a failure is logged (once, then at
 * debug level) and the next renewal tries again, and the write at exit is bounded in time.
 * `--no-pilot-record` (PICAS_PILOT_RECORD=false) turns records off.
 */
import { pilotDocId, pilotIdentity, PILOT_TYPE, type CouchHttp, type Logger, type PilotCounts, type PilotDoc, type PilotResourcesRecord, type PilotWrittenState } from '@picas/core';
import type { WorkerSummary } from './summary.js';

export interface PilotOccupancy {
  running: number;
  claimedAhead: number;
  /** running tokens per shape label */
  runningShapes: Record<string, number>;
}

const IDLE: PilotOccupancy = { running: 0, claimedAhead: 0, runningShapes: {} };

export interface PilotRecordOptions {
  http: CouchHttp;
  workerId: string;
  hostname: string;
  env: Record<string, string | undefined>;
  slots: number;
  leaseMs: number;
  log: Logger;
  /** the pilot's live counts, read at each renewal */
  counts: () => PilotCounts;
  /** its tokens running now (and their shapes) and claimed ahead (held, not started), read at each renewal */
  occupancy: () => PilotOccupancy;
  /** what the pilot has */
  resources: PilotResourcesRecord;
  /** renewal interval (default: a third of the lease) */
  intervalMs?: number;
}

/** Longest a single record write may take (a slow server must not hold a pilot's exit). */
const WRITE_TIMEOUT_MS = 15_000;

export class PilotRecord {
  private doc: PilotDoc;
  private timer?: NodeJS.Timeout;
  private inflight?: Promise<void>;
  private finishing?: Promise<void>;
  private stopped = false;
  private warned = false;
  /** aborts a write in flight when the pilot exits and its final write must go out */
  private readonly cancel = new AbortController();
  writes = 0;
  failures = 0;

  constructor(private readonly options: PilotRecordOptions) {
    const now = Math.floor(Date.now() / 1000);
    const { jobId, slurm, launcher } = pilotIdentity(options.env);
    this.doc = {
      _id: pilotDocId(options.workerId),
      type: PILOT_TYPE,
      pilot_id: options.workerId,
      hostname: options.hostname,
      pid: process.pid,
      ...(jobId ? { job_id: jobId } : {}),
      ...slurm,
      ...(launcher ? { launcher } : {}),
      slots: options.slots,
      resources: { ...options.resources },
      lease_s: Math.round(options.leaseMs / 100) / 10,
      started: now,
      heartbeat: now,
      lease_until: now + Math.ceil(options.leaseMs / 1000),
      state: 'running',
      counts: { ...options.counts() },
      running: 0,
      claimed_ahead: 0,
      running_shapes: {},
    };
  }

  get intervalMs(): number {
    return this.options.intervalMs ?? Math.max(200, Math.floor(this.options.leaseMs / 3));
  }

  /** The first write (in the background) and the renewal timer. */
  start(): void {
    this.beat();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beat();
      this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** A renewal, unless the previous one is still in flight. */
  private beat(): void {
    if (this.inflight || this.stopped) return;
    this.inflight = this.write('running').finally(() => {
      this.inflight = undefined;
    });
  }

  /**
   * Stops the timer and writes the final state, stop reason and summary. Never throws. Called again (a second
   * signal while the first final write is under way), it waits for that same write.
   */
  finish(state: Exclude<PilotWrittenState, 'running'>, summary: WorkerSummary): Promise<void> {
    this.finishing ??= this.writeFinal(state, summary);
    return this.finishing;
  }

  private async writeFinal(state: Exclude<PilotWrittenState, 'running'>, summary: WorkerSummary): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.cancel.abort();
    await this.inflight;
    this.doc.ended = Math.floor(Date.now() / 1000);
    this.doc.stop_reason = summary.stopReason;
    this.doc.summary = compactSummary(summary);
    await this.write(state);
  }

  private async write(state: PilotWrittenState): Promise<void> {
    const { http, leaseMs, log } = this.options;
    const now = Math.floor(Date.now() / 1000);
    this.doc.state = state;
    this.doc.heartbeat = now;
    this.doc.lease_until = now + Math.ceil(leaseMs / 1000);
    this.doc.counts = { ...this.options.counts() };
    const { running, claimedAhead, runningShapes } = state === 'running' ? this.options.occupancy() : IDLE;
    this.doc.running = running;
    this.doc.claimed_ahead = claimedAhead;
    this.doc.running_shapes = { ...runningShapes };
    const signal = state === 'running' ? this.cancel.signal : undefined;
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await http.request<{ rev?: string }>({ method: 'PUT', path: http.docPath(this.doc._id), body: this.doc, signal, timeoutMs: WRITE_TIMEOUT_MS });
        if (res.status === 201 || res.status === 202) {
          this.doc._rev = res.body?.rev;
          this.writes++;
          return;
        }
        if (res.status !== 409 || attempt > 0) throw http.errorFor(res, `writing the pilot record ${this.doc._id}`);
        // a record of an earlier pilot with the same --worker-id, or our own write that got through unseen: take its rev
        const current = await http.request<{ _rev?: string }>({ path: http.docPath(this.doc._id), signal, timeoutMs: WRITE_TIMEOUT_MS });
        if (current.status === 200 && current.body?._rev) this.doc._rev = current.body._rev;
        else if (current.status === 404) delete this.doc._rev;
      }
    } catch (err) {
      if (signal?.aborted) return; // cut short by the exit: the final write follows
      this.failures++;
      const fields = { err, record: this.doc._id };
      const message = 'could not write the pilot record; token work goes on (next try at the next renewal)';
      if (this.warned) log.debug(fields, message);
      else log.warn(fields, message);
      this.warned = true;
    }
  }
}

/** How a pilot ended, for its record. */
export function pilotEndState(stopKind: 'signal' | 'max-time' | 'fatal' | undefined, fatal: unknown): Exclude<PilotWrittenState, 'running'> {
  if (fatal !== undefined || stopKind === 'fatal') return 'failed';
  return stopKind === 'signal' ? 'stopped' : 'finished';
}

/** The numbers of the summary log line, for the record. */
export function compactSummary(s: WorkerSummary): Record<string, unknown> {
  return {
    claimed: s.claimed,
    done: s.done,
    failed: s.failed,
    requeued: s.requeued,
    lost: s.lost,
    wall_s: Math.round(s.wallMs / 100) / 10,
    peak_rss_mb: s.peakRssMb,
    cpu_ms: s.cpuMs,
    ...(s.commandsCpuMs !== undefined ? { commands_cpu_ms: s.commandsCpuMs } : {}),
    http_requests: s.httpRequests,
    stop_reason: s.stopReason,
  };
}
