/**
 * What the pilot can run, as one object: the one place that counts slots (`--slots`) and asks the time
 * budget. A slot is a permit with a lifecycle: `tryReserve` hands one out to a held token about to start,
 * `release` gives it back (when the command ends, or when its result is written), and `handOver` passes it
 * on to a dependent the completing token took, so a chain goes on in the same slot.
 *
 * Two questions, one answer type:
 *  - `fits`: does the pilot take this token at all (a claim's candidates, the dependents a completion may
 *    take)? Today: its expected runtime plus the margin fits in the time left.
 *  - `tryReserve`: may a held token start now? Today: a free slot (it fitted when it was claimed).
 * A later change (tokens that need cores, GPUs, memory) changes this object alone.
 */
import type { TokenDoc } from '@picas/core';
import { prefetchDepth, type PrefetchSetting } from './prefetch.js';
import type { TimeBudget } from './time-budget.js';

/** Why a token does not fit. Only 'time-budget' says that no token of its size will fit this pilot again. */
export type Unfit =
  | { fits: false; reason: 'no-free-slot' }
  | { fits: false; reason: 'time-budget'; expectedMs: number; remainingMs: number; marginMs: number };

export type Fit = { fits: true } | Unfit;

export type ReservationState = 'held' | 'released' | 'handed-over';

/** why a slot was given back: its command ended (its result is written meanwhile), or the token is finished with */
export type ReleaseReason = 'command-ended' | 'finished';

export interface Reservation {
  readonly tokenId: string;
  readonly state: ReservationState;
  /** set once released */
  readonly releasedFor?: ReleaseReason;
}

interface Permit {
  tokenId: string;
  state: ReservationState;
  releasedFor?: ReleaseReason;
}

const FITS: Fit = { fits: true };

export class Capacity {
  private reserved = 0;

  constructor(private readonly options: { slots: number; budget: TimeBudget }) {}

  get slots(): number {
    return this.options.slots;
  }

  /** reservations held now (commands running, or slots passed on to a chain) */
  get inUse(): number {
    return this.reserved;
  }

  /** slots free now */
  free(): number {
    return Math.max(0, this.options.slots - this.reserved);
  }

  /** Whether the pilot takes this token at all: today, whether its expected runtime fits the time budget. */
  fits(token: Pick<TokenDoc, 'expected_seconds'>, nowMs = Date.now()): Fit {
    const { budget } = this.options;
    if (budget.fits(token, nowMs)) return FITS;
    return { fits: false, reason: 'time-budget', expectedMs: budget.expectedMs(token), remainingMs: budget.remainingMs(nowMs), marginMs: budget.settings.marginMs };
  }

  /** A permit to start a held token now (it fitted when it was claimed): a free slot. */
  tryReserve(token: Pick<TokenDoc, '_id'>): Reservation | Unfit {
    if (this.reserved >= this.options.slots) return { fits: false, reason: 'no-free-slot' };
    this.reserved++;
    return { tokenId: token._id, state: 'held' } satisfies Permit;
  }

  /** Gives a held reservation back; false (and nothing changes) when it was released or handed over before. */
  release(reservation: Reservation, reason: ReleaseReason): boolean {
    const permit = reservation as Permit;
    if (permit.state !== 'held') return false;
    permit.state = 'released';
    permit.releasedFor = reason;
    this.reserved--;
    return true;
  }

  /** Passes a held reservation on to a dependent of its token: the slot stays taken, by the dependent now. */
  handOver(reservation: Reservation, dependent: Pick<TokenDoc, '_id'>): Reservation {
    const permit = reservation as Permit;
    if (permit.state !== 'held') throw new Error(`handOver: the reservation of ${permit.tokenId} is ${permit.state}, not held`);
    permit.state = 'handed-over';
    return { tokenId: dependent._id, state: 'held' } satisfies Permit;
  }

  /**
   * How many dependents a completion may take: the free slots, plus the completing token's own (handed
   * over to the first), less the held tokens that wait for a slot already.
   */
  roomForTakes(own: Reservation | undefined, waiting: number): number {
    return this.free() + (own?.state === 'held' ? 1 : 0) - waiting;
  }

  /** Tokens to ask for in the next claim (prefetch.ts), from the mean runtime seen so far. */
  claimDepth(setting: PrefetchSetting, bulkAllowed: boolean): number {
    return prefetchDepth(setting, { slots: this.options.slots, bulkAllowed, meanRuntimeMs: this.options.budget.meanMs() });
  }

  /** A finished run's wall time: what the expected runtime of tokens without `expected_seconds` comes from. */
  recordRun(runMs: number): void {
    this.options.budget.record(runMs);
  }

  /** ms left in the time budget (Infinity without one) */
  remainingMs(): number {
    return this.options.budget.remainingMs();
  }
}

export function isUnfit(r: Reservation | Unfit): r is Unfit {
  return 'fits' in r;
}
