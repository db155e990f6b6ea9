/**
 * Runs ops/repair on a jittered interval (so that many pilots do not repair at the same moment): tokens
 * left with conflicting revisions go back to todo without a human.
 */
import type { CouchHttp, Logger } from '@picas/core';
import { repairConflicts, type RepairReport } from '@picas/core/ops/repair';

export class ConflictRepairer {
  private timer?: NodeJS.Timeout;
  private running?: Promise<RepairReport | undefined>;
  private stopped = false;
  lastRunMs = 0;

  constructor(
    private readonly http: CouchHttp,
    private readonly options: { intervalMs: number; actor: string; log: Logger; random?: () => number; r?: number; w?: number },
  ) {}

  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const jitter = 0.5 + (this.options.random ?? Math.random)();
    this.timer = setTimeout(() => void this.runOnce().finally(() => this.schedule()), Math.round(this.options.intervalMs * jitter));
    this.timer.unref();
  }

  /** One repair pass; errors are logged, never thrown. */
  runOnce(): Promise<RepairReport | undefined> {
    if (this.running) return this.running;
    const { log } = this.options;
    this.lastRunMs = Date.now();
    this.running = repairConflicts(this.http, { actor: this.options.actor, r: this.options.r, w: this.options.w })
      .then((report) => {
        if (report.repaired.length > 0) log.warn({ repaired: report.repaired.map((r) => r.id) }, `repaired ${report.repaired.length} token(s) with conflicting revisions`);
        if (report.skipped.length > 0) log.info({ skipped: report.skipped }, `left ${report.skipped.length} conflicted token(s) for later`);
        return report;
      })
      .catch((err: unknown) => {
        log.warn({ err }, 'conflict repair failed; will retry later');
        return undefined;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
