/** A claimer's bookkeeping: what its claim rounds did, and how long the winning ones took. */

export interface ClaimStats {
  viewReads: number;
  /** reads from a random key (see claim-spread.ts) */
  spreadReads: number;
  /** tokens tried */
  attempts: number;
  /** claim requests written (a PUT, or one `_bulk_docs` for several tokens) */
  writes: number;
  won: number;
  reclaimed: number;
  conflicts: number;
  accepted: number;
  errors: number;
  staleRows: number;
  conflictedSkipped: number;
}

export function emptyClaimStats(): ClaimStats {
  return { viewReads: 0, spreadReads: 0, attempts: 0, writes: 0, won: 0, reclaimed: 0, conflicts: 0, accepted: 0, errors: 0, staleRows: 0, conflictedSkipped: 0 };
}

/** Wall time of each claim round that won, in ms (bounded), for the benchmark's p50/p99. */
export class ClaimLatency {
  private readonly samplesMs: number[] = [];

  record(ms: number): void {
    if (this.samplesMs.length < 100_000) this.samplesMs.push(ms);
  }

  /** Claim latency percentiles (ms) over the rounds that won. */
  percentiles(): { n: number; p50: number; p99: number } {
    const sorted = [...this.samplesMs].sort((a, b) => a - b);
    const at = (p: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 10) / 10 : 0);
    return { n: sorted.length, p50: at(0.5), p99: at(0.99) };
  }
}
