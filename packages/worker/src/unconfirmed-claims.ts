/**
 * This pilot's claims that were not won for sure: answered 202 (some replicas took the claim, not all), or
 * with no clear answer (a timeout, a 5xx: it may have been applied). None of them is run. Each is settled
 * (settle-claim.ts: withdrawn, repaired, or left to whoever holds the token) once CouchDB's internal
 * replication had time to merge the replicas' edits.
 */
import { sleep, type CouchHttp, type Logger } from '@picas/core';
import { settleUnconfirmedClaim, type UnconfirmedClaim } from '@picas/core/ops/settle-claim';
import type { UnconfirmedSummary } from './summary.js';

/**
 * How long a claim answered 202 is left before it is settled: CouchDB's internal replication merges the
 * replicas' edits after `[mem3] sync_delay` (5 s), and only then are all the claims on a token visible.
 */
export const SETTLE_DELAY_MS = 6000;
/** a claim still uncertain after this many looks is left to the periodic repair and the lease */
const SETTLE_TRIES = 10;

type Pending = UnconfirmedClaim & { tries: number };

export class UnconfirmedClaims {
  private pending: Pending[] = [];
  private readonly counts = { withdrawn: 0, repaired: 0, settled: 0, retried: 0 };

  constructor(private readonly options: { http: CouchHttp; actor: string; log: Logger; w?: number; r?: number }) {}

  get size(): number {
    return this.pending.length;
  }

  add(claim: UnconfirmedClaim): void {
    this.pending.push({ ...claim, tries: 0 });
  }

  /** ms until the earliest claim is due (0 when one is due now) */
  nextDueInMs(nowMs = Date.now()): number {
    return Math.max(0, Math.min(...this.pending.map((c) => c.atMs)) + SETTLE_DELAY_MS - nowMs);
  }

  /** For the summary: on a cluster always, elsewhere once there was something to settle. */
  summary(clustered: boolean): UnconfirmedSummary | undefined {
    if (!clustered && !Object.values(this.counts).some((n) => n > 0)) return undefined;
    return { ...this.counts, pending: this.pending.length };
  }

  /** Settles the claims whose replication had time; errors leave them for later. */
  async settleDue(signal: AbortSignal): Promise<void> {
    if (this.pending.length === 0) return;
    const now = Date.now();
    const due = this.pending.filter((c) => now - c.atMs >= SETTLE_DELAY_MS);
    if (due.length === 0) return;
    this.pending = this.pending.filter((c) => now - c.atMs < SETTLE_DELAY_MS);
    const { http, actor, w, r } = this.options;
    for (const c of due) {
      if (signal.aborted) {
        this.pending.push(c);
        continue;
      }
      let result;
      try {
        result = await settleUnconfirmedClaim(http, c, { actor, w, r, signal });
      } catch (err) {
        result = { outcome: 'retry' as const, message: (err as Error).message };
      }
      const log = this.options.log.child({ token: c.id });
      if (result.outcome === 'retry') {
        this.counts.retried++;
        // kept even when stopping (a stop can cut a settle short): settleBeforeExit looks at it once more
        if (c.tries + 1 < SETTLE_TRIES) this.pending.push({ ...c, atMs: Date.now(), tries: c.tries + 1 });
        else log.warn({ reason: result.message }, 'an unconfirmed claim could not be settled; left to the periodic repair');
        continue;
      }
      this.counts[result.outcome]++;
      if (result.outcome !== 'settled') log.info({ settle: result.outcome }, result.message);
      else log.debug({ settle: result.outcome }, result.message);
    }
  }

  /**
   * Stopping with claims still pending (a signal, --max-time): one look at each now, without waiting for
   * replication (the leaves are read from every replica). What stays uncertain is left to repair and leases.
   */
  async settleBeforeExit(): Promise<void> {
    if (this.pending.length === 0) return;
    const signal = AbortSignal.timeout(30_000);
    // two looks: a withdrawal answered 202 (applied, not proven on every replica) is looked at once more
    for (let look = 0; look < 2 && this.pending.length > 0 && !signal.aborted; look++) {
      if (look > 0) await sleep(1000, signal).catch(() => undefined);
      for (const c of this.pending) c.atMs = 0;
      await this.settleDue(signal).catch(() => undefined);
    }
    if (this.pending.length > 0) this.options.log.warn({ unconfirmed: this.pending.map((c) => c.id) }, 'stopping with claims not answered for sure (a 202, or no clear answer) and not settled: picas repair or the lease will put them back');
  }
}
