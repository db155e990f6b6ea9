/**
 * How the cluster looks from the claims: a claim answered only 202 means another pilot's claim reached
 * some replicas first (contention), or a replica is out of reach (a degraded cluster). The membership
 * (`/_membership`, read at most every 5 s) tells them apart; where it is closed (a member account), many
 * rounds in a row with no 201 at all is what a replica out of reach looks like. Contention is waited out
 * briefly; a degraded cluster is backed off from, longer each round.
 */
import { backoffDelay, type CouchHttp, type Logger } from '@picas/core';
import type { ClaimOutcome } from '@picas/core/ops/claim';
import { readMembership, type Membership } from '@picas/core/ops/membership';

export interface AcceptedVerdict {
  mode: 'contended' | 'degraded';
  /** how long to wait before claiming again */
  delayMs: number;
}

/** how long a membership read is reused (a 202 storm must not become a _membership storm) */
const MEMBERSHIP_TTL_MS = 5000;

export class ClusterHealth {
  /** degraded rounds in a row: the backoff grows with them */
  private degraded = 0;
  /** claim rounds in a row that ended in 202s only */
  private acceptedInARow = 0;
  private contentionLogged = false;
  private membership?: { at: number; value: Membership | undefined };

  constructor(private readonly options: { http: CouchHttp; replicas: number; log: Logger; signal: AbortSignal }) {}

  /** Every claim round's outcome: a round that won, or got anything but 202s, ends a degraded spell. */
  note(outcome: ClaimOutcome): void {
    if (outcome !== 'accepted') this.degraded = 0;
    if (outcome === 'won') this.acceptedInARow = 0;
    else if (outcome === 'accepted') this.acceptedInARow++;
  }

  /** After a round that got 202s only: contention or a degraded cluster (logged), and how long to back off. */
  async afterAccepted(acceptedClaims: number): Promise<AcceptedVerdict> {
    const { log, replicas: n } = this.options;
    const membership = await this.readMembership();
    if (membership ? membership.missing.length === 0 && this.acceptedInARow < 20 : this.acceptedInARow < 8) {
      this.degraded = 0;
      if (!this.contentionLogged) {
        this.contentionLogged = true;
        log.info({ n }, 'claims contended on the cluster: a claim was only accepted by some replicas (202); it is not run, and is settled once replication merged the replicas');
      }
      return { mode: 'contended', delayMs: 20 + Math.random() * 200 };
    }
    this.degraded++;
    const delayMs = backoffDelay(this.degraded, 1000, 60_000);
    const missing = !membership
      ? `${this.acceptedInARow} claims in a row got no 201 (this account cannot read /_membership to name the node)`
      : membership.missing.length > 0
        ? `node(s) ${membership.missing.join(', ')} cannot be reached`
        : `${this.acceptedInARow} claims in a row got no 201 although every node is connected (a write quorum above the copies that exist?)`;
    log.warn(
      { n, missing: membership?.missing ?? null, accepted: acceptedClaims, delay_ms: delayMs },
      `cluster degraded: ${missing}; claims need all ${n} replicas (w=${n}), so a claim was only accepted by some of them (202) and is not run. Backing off. (--claim-quorum can lower this, unsafely)`,
    );
    return { mode: 'degraded', delayMs };
  }

  private async readMembership(): Promise<Membership | undefined> {
    if (this.membership && Date.now() - this.membership.at < MEMBERSHIP_TTL_MS) return this.membership.value;
    let value: Membership | undefined;
    try {
      value = await readMembership(this.options.http, { signal: this.options.signal });
    } catch {
      value = undefined;
    }
    this.membership = { at: Date.now(), value };
    return value;
  }
}
