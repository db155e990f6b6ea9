/**
 * Writes what became of a held token: its result with the command's logs (capped; capped harder when
 * CouchDB refuses the document as too large), through the CompletionBatcher where results may share a
 * write; on a stop, the token back to todo (`--on-signal requeue`) or marked error (`--on-signal fail`).
 * Every outcome is tallied in the pilot's counts and logged.
 */
import { sleep, type CouchHttp, type Logger, type RunResult, type TokenDoc } from '@picas/core';
import { completeToken } from '@picas/core/ops/complete';
import type { CompletionBatcher } from '@picas/core/ops/complete-batch';
import { requeueToken } from '@picas/core/ops/release';
import type { Capacity } from './capacity.js';
import type { HeldToken } from './held-token.js';
import { captureLog, textAttachment } from './log-capture.js';
import type { WorkerOptions } from './options.js';
import type { RunPaths } from './run-files.js';
import type { StopSwitch } from './stop-switch.js';
import type { TokenCounts } from './summary.js';
import type { RunOutcome } from './token-runner.js';

/** Per-stream log cap used when CouchDB refuses the document with the configured cap (413). */
const FALLBACK_LOG_BYTES = 65_536;

export type Tally = 'done' | 'failed' | 'requeued' | 'lost';

/** A result that was written: the token as written, and what became of it. */
export interface WrittenResult {
  doc: TokenDoc;
  kind: 'done' | 'failed' | 'requeued';
}

export class ResultWriter {
  constructor(
    private readonly parts: {
      http: CouchHttp;
      options: WorkerOptions;
      workerId: string;
      hostname: string;
      counts: TokenCounts;
      stop: StopSwitch;
      capacity: Capacity;
      /** batches results (single node, --prefetch not 1) */
      completer?: CompletionBatcher;
    },
  ) {}

  /** Sends the results waiting in the batch now (when the pilot turns to claim, or has nothing left to run). */
  flush(): void {
    if (this.parts.completer) void this.parts.completer.flush();
  }

  /**
   * Records a run: its result, or, when the pilot stops, the token requeued or failed. Undefined when
   * nothing was completed (lost, stopped, not written).
   */
  async record(held: HeldToken, outcome: RunOutcome, paths: RunPaths, stopSignal: AbortSignal): Promise<WrittenResult | undefined> {
    const { options: o, workerId, hostname, capacity } = this.parts;
    const { keeper, log } = held;
    const lost = keeper.lostInfo;
    if (lost) {
      this.parts.counts.lost++;
      log.warn({ lost: lost.lost, exit_code: outcome.exitCode }, `token lost (${lost.message}); its result was not written`);
      return undefined;
    }
    // Under Slurm, scancel and the time limit signal the whole job: the command may die of SIGTERM an
    // instant before our own handler runs. Such a death is a stop, not a failure.
    if (stoppedByPilot(outcome, stopSignal) || (killedLikeAStop(outcome) && (await this.stopsWithin(2000)))) {
      await this.writeStopped(held, outcome, paths);
      return undefined;
    }
    const runMs = Math.max(0, (outcome.finished - outcome.started) * 1000);
    capacity.recordRun(runMs);
    let result = resultOf(outcome, this.logs(held.doc._id, paths), hostname);
    const complete = () => {
      const options = {
        claimId: held.claimId,
        workerId,
        maxScrub: o.maxScrub,
        retryForMs: o.retryFor,
        onRetry: (err: unknown, attempt: number, delay: number) => log.warn({ err, attempt, delay_ms: delay }, 'saving the result: CouchDB unavailable, retrying'),
      };
      // a token with dependents is written at once: its release (and the next link of its chain) waits for it
      const { completer } = this.parts;
      return completer && !held.doc.has_dependents ? completer.complete(keeper.current, result, options) : completeToken(this.parts.http, keeper.current, result, options);
    };
    let written;
    try {
      written = await complete();
    } catch (err) {
      const status = httpStatusOf(err);
      if (status === 413) {
        // the server refused a document this large: keep the result with smaller logs
        log.warn({ max_log_bytes: FALLBACK_LOG_BYTES }, `CouchDB refused the logs as too large (413): storing them capped to ${FALLBACK_LOG_BYTES} bytes per stream`);
        result = resultOf(outcome, this.logs(held.doc._id, paths, FALLBACK_LOG_BYTES), hostname);
      } else if (status === 400) {
        // the server refused the result itself: record the refusal instead (no logs), so the token never stays locked
        const refusal = `could not record the result (exit code ${outcome.exitCode}): ${(err as Error).message}`;
        log.warn({ err }, refusal);
        result = { ...resultOf(outcome, undefined, hostname), exitCode: outcome.exitCode === 0 ? 1 : outcome.exitCode, reason: refusal };
      } else {
        throw err;
      }
      written = await complete();
    }
    if (!written.written) {
      this.tally('lost', log, `not written: ${written.message}`, { lost: written.lost, exit_code: result.exitCode });
      return undefined;
    }
    const fields = { exit_code: result.exitCode, run_s: Math.round(runMs) / 1000, ...(result.reason ? { reason: result.reason } : {}) };
    const kind = written.requeued ? 'requeued' : result.exitCode === 0 ? 'done' : 'failed';
    if (kind === 'requeued') this.tally('requeued', log, `failed; back to todo for a retry (--max-scrub ${o.maxScrub})`, fields);
    else if (kind === 'done') this.tally('done', log, 'done', fields);
    else this.tally('failed', log, 'failed', fields);
    return { doc: written.doc, kind };
  }

  /** A held token that never started (prefetched, or taken, when the pilot stopped): back to todo. */
  async putBack(held: HeldToken): Promise<void> {
    const { http, workerId, options, stop, counts } = this.parts;
    await held.keeper.stop();
    if (held.keeper.lostInfo) {
      counts.lost++;
      return;
    }
    try {
      const r = await requeueToken(http, held.keeper.current, {
        claimId: held.claimId,
        workerId,
        event: 'requeued',
        reason: `pilot ${workerId} stopped before starting it: ${stop.request?.reason ?? 'stopping'}`,
        retryForMs: options.retryFor,
      });
      this.tally(r.written ? 'requeued' : 'lost', held.log, r.written ? 'not started; back to todo' : `not started; not written: ${(r as { message: string }).message}`);
    } catch (err) {
      counts.lost++;
      held.log.error({ err }, 'could not put a prefetched token back; its lease will expire');
    }
  }

  /** True if a stop is requested within `ms` (a signal that reached our command first reaches us soon). */
  private async stopsWithin(ms: number): Promise<boolean> {
    const { stop } = this.parts;
    const deadline = Date.now() + ms;
    while (!stop.stopping && Date.now() < deadline) await sleep(50);
    return stop.stopping;
  }

  private async writeStopped(held: HeldToken, outcome: RunOutcome, paths: RunPaths): Promise<void> {
    const { http, options: o, workerId, hostname, stop } = this.parts;
    const { keeper, log } = held;
    const why = stop.request?.reason ?? `the command was killed by ${outcome.signal}`;
    const attachments = this.logs(held.doc._id, paths);
    if (o.onSignal === 'fail' && stop.request?.kind !== 'max-time') {
      const result: RunResult = { ...resultOf(outcome, attachments, hostname), reason: `stopped: ${why} (--on-signal fail)` };
      if (result.exitCode === 0) result.exitCode = 143;
      const written = await completeToken(http, keeper.current, result, { claimId: held.claimId, workerId, maxScrub: 0, retryForMs: o.retryFor });
      this.tally(written.written ? 'failed' : 'lost', log, written.written ? `stopped; marked error (${why})` : `stopped; not written: ${(written as { message: string }).message}`);
    } else {
      const written = await requeueToken(http, keeper.current, { claimId: held.claimId, workerId, event: 'requeued', reason: `pilot ${workerId} stopped: ${why}`, retryForMs: o.retryFor });
      this.tally(written.written ? 'requeued' : 'lost', log, written.written ? `stopped; back to todo (${why})` : `stopped; not written: ${(written as { message: string }).message}`);
    }
  }

  private tally(kind: Tally, log: Logger, message: string, fields: Record<string, unknown> = {}): void {
    this.parts.counts[kind]++;
    if (kind === 'lost' || kind === 'failed') log.warn(fields, message);
    else log.info(fields, message);
  }

  private logs(id: string, paths: RunPaths, max = this.parts.options.maxLogBytes): RunResult['attachments'] {
    return {
      [`logs_${id}.out`]: textAttachment(captureLog(paths.stdoutPath, max).data),
      [`logs_${id}.err`]: textAttachment(captureLog(paths.stderrPath, max).data),
    };
  }
}

/** The command was stopped by the pilot's stop (not by its lease being lost, nor its timeout). */
function stoppedByPilot(outcome: RunOutcome, stopSignal: AbortSignal): boolean {
  return outcome.stoppedBy === 'abort' && (stopSignal.reason as { stop?: string } | undefined)?.stop !== undefined;
}

/** The command died of a signal that usually stops the whole job (its pilot's stop may follow at once). */
function killedLikeAStop(outcome: RunOutcome): boolean {
  return !!outcome.signal && ['SIGTERM', 'SIGINT', 'SIGHUP'].includes(outcome.signal) && outcome.stoppedBy === undefined;
}

function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { cause?: { statusCode?: unknown } })?.cause?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function resultOf(outcome: RunOutcome, attachments: RunResult['attachments'], hostname: string): RunResult {
  return { exitCode: outcome.exitCode, started: outcome.started, finished: outcome.finished, reason: outcome.reason, attachments, hostname, ...(outcome.output !== undefined ? { output: outcome.output } : {}) };
}
