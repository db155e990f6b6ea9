/**
 * The pilot's part in dependencies between tokens (docs/dag.md):
 *  - afterCompletion: a token with `has_dependents` that ended with exit 0 releases its dependents whose
 *    dependencies are now all done, and takes those the pilot has room for (locked by it in the same write,
 *    see release-dependents.ts); one that failed for good blocks them. Tokens without dependents cost
 *    nothing here (no request).
 *  - sweep: settles every waiting token (release or block). Run when the pool looks empty, before the pilot
 *    leaves, and on the repair interval, so that a pilot killed between a completion and its release
 *    strands nothing.
 * Errors are logged, never thrown: the sweep of any pilot, or `picas repair`, finishes the job later.
 *
 * Test-only hook: with PICAS_TEST_KILL_AFTER_COMPLETION=1 in the pilot's environment, the pilot kills itself
 * with SIGKILL right after writing the result of a token that has dependents, before releasing them (to
 * test that another pilot releases them). Never set it in production.
 */
import type { CouchHttp, Logger, TokenDoc } from '@picas/core';
import { blockDependents, releaseDependents, sweepWaiting, type SettleReport, type TakeReleased } from '@picas/core/ops/release-dependents';
import { PeriodicPass } from './periodic-pass.js';

export class DependencyKeeper {
  private readonly pass: PeriodicPass<SettleReport>;

  constructor(
    private readonly http: CouchHttp,
    private readonly options: { w?: number; actor: string; log: Logger; intervalMs: number; env: Record<string, string | undefined> },
  ) {
    const { log } = options;
    this.pass = new PeriodicPass(
      async () => {
        const report = await sweepWaiting(http, { w: options.w, actor: options.actor });
        if (report.released.length > 0) log.info({ released: report.released }, `released ${report.released.length} waiting token(s) whose dependencies are done`);
        if (report.blocked.length > 0) log.warn({ blocked: report.blocked }, `blocked ${report.blocked.length} waiting token(s) whose dependencies failed`);
        return report;
      },
      { intervalMs: options.intervalMs, log, failure: 'sweeping waiting tokens failed; will retry later' },
    );
  }

  /**
   * After the result of `doc` was written (`doc` as written). `take` picks the released dependents this pilot
   * runs itself; the report (undefined when there was nothing to do, or it failed) says which it got.
   */
  async afterCompletion(doc: TokenDoc, outcome: 'done' | 'failed' | 'requeued', log: Logger, take?: TakeReleased): Promise<SettleReport | undefined> {
    if (!doc.has_dependents || outcome === 'requeued') return undefined;
    if (this.options.env.PICAS_TEST_KILL_AFTER_COMPLETION === '1') process.kill(process.pid, 'SIGKILL');
    try {
      const report =
        outcome === 'done'
          ? await releaseDependents(this.http, doc._id, { w: this.options.w, actor: this.options.actor, take })
          : await blockDependents(this.http, doc._id, doc._id, `dependency ${doc._id} failed (exit code ${String(doc.exit_code)})`, { w: this.options.w, actor: this.options.actor });
      if (report.released.length > 0) log.info({ released: report.released.length, taken: report.taken.length }, `released ${report.released.length} dependent token(s)`);
      if (report.blocked.length > 0) log.warn({ blocked: report.blocked.length }, `blocked ${report.blocked.length} dependent token(s)`);
      return report;
    } catch (err) {
      log.warn({ err }, 'could not settle the dependent tokens; a later sweep (any pilot, or picas repair) does');
      return undefined;
    }
  }

  start(): void {
    this.pass.start();
  }

  /** One sweep over the waiting tokens; undefined when it failed (logged). */
  sweep(): Promise<SettleReport | undefined> {
    return this.pass.runOnce();
  }

  stop(): Promise<void> {
    return this.pass.stop();
  }
}
