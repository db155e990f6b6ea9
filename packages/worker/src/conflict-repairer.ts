/**
 * Runs ops/repair on a jittered interval (periodic-pass.ts): tokens left with conflicting revisions go back
 * to todo without a human.
 */
import type { CouchHttp, Logger } from '@picas/core';
import { repairConflicts, type RepairReport } from '@picas/core/ops/repair';
import { PeriodicPass } from './periodic-pass.js';

export class ConflictRepairer extends PeriodicPass<RepairReport> {
  constructor(http: CouchHttp, options: { intervalMs: number; actor: string; log: Logger; random?: () => number; r?: number; w?: number }) {
    const { log } = options;
    super(
      async () => {
        const report = await repairConflicts(http, { actor: options.actor, r: options.r, w: options.w });
        if (report.repaired.length > 0) log.warn({ repaired: report.repaired.map((r) => r.id) }, `repaired ${report.repaired.length} token(s) with conflicting revisions`);
        if (report.skipped.length > 0) log.info({ skipped: report.skipped }, `left ${report.skipped.length} conflicted token(s) for later`);
        return report;
      },
      { intervalMs: options.intervalMs, log, failure: 'conflict repair failed; will retry later', random: options.random },
    );
  }
}
