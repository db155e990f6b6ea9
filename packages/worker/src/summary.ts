/** What a pilot did, logged (summaryLine, and as JSON) and written to its record when it exits. */
import { cpuTimeMs, type PilotCounts } from '@picas/core';
import { emptyClaimStats, type Claimer } from '@picas/core/ops/claim';
import type { CompletionBatcher } from '@picas/core/ops/complete-batch';

export interface WorkerSummary {
  worker: string;
  claimed: number;
  /** of those, dependents taken by this pilot in the write that released them (release-dependents.ts) */
  taken: number;
  done: number;
  failed: number;
  requeued: number;
  lost: number;
  wallMs: number;
  peakRssMb: number;
  /** CPU time of the pilot process itself (user + system), not of the commands it ran */
  cpuMs: number;
  /** CPU time of the commands it ran (Linux: from /proc; undefined elsewhere) */
  commandsCpuMs?: number;
  httpRequests: number;
  stopReason: string;
  claims: Claimer['stats'];
  claimLatencyMs: { n: number; p50: number; p99: number };
  /** batched completion writes (on a single node unless --prefetch 1) */
  completions?: CompletionBatcher['stats'];
  /** claims answered 202 (cluster) or with no clear answer, settled once replication had time: withdrawn, repaired, or left to others */
  unconfirmed?: UnconfirmedSummary;
}

export interface UnconfirmedSummary {
  withdrawn: number;
  repaired: number;
  settled: number;
  retried: number;
  pending: number;
}

/** The pilot's tallies of tokens: what --max-tokens counts, and what its record shows while it runs. */
export interface TokenCounts extends PilotCounts {
  /** dependents taken in the write that released them (counted in `claimed` too) */
  taken: number;
}

export function emptyTokenCounts(): TokenCounts {
  return { claimed: 0, taken: 0, done: 0, failed: 0, requeued: 0, lost: 0 };
}

export function summaryLine(s: WorkerSummary): string {
  return `picas-worker ${s.worker}: done ${s.done}, failed ${s.failed}, requeued ${s.requeued}, lost ${s.lost}, wall ${(s.wallMs / 1000).toFixed(1)}s`;
}

/** The summary now, from the pilot's parts (those not made yet, when start-up was cut short, count nothing). */
export function workerSummary(parts: {
  worker: string;
  counts: TokenCounts;
  startedMs: number;
  httpRequests: number;
  stopReason: string;
  claimer?: Claimer;
  completer?: CompletionBatcher;
  unconfirmed?: UnconfirmedSummary;
}): WorkerSummary {
  const usage = process.resourceUsage();
  return {
    worker: parts.worker,
    ...parts.counts,
    wallMs: Date.now() - parts.startedMs,
    peakRssMb: Math.round(usage.maxRSS / 102.4) / 10,
    cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
    commandsCpuMs: finiteOrUndefined(cpuTimeMs('self', { children: true })),
    httpRequests: parts.httpRequests,
    stopReason: parts.stopReason,
    claims: parts.claimer?.stats ?? emptyClaimStats(),
    claimLatencyMs: parts.claimer?.latency() ?? { n: 0, p50: 0, p99: 0 },
    completions: parts.completer?.stats,
    unconfirmed: parts.unconfirmed,
  };
}

/** Seconds with one decimal, or null for an endless span (no time budget). */
export function finiteSeconds(ms: number): number | null {
  return Number.isFinite(ms) ? Math.round(ms / 100) / 10 : null;
}

function finiteOrUndefined(n: number): number | undefined {
  return Number.isFinite(n) ? n : undefined;
}
