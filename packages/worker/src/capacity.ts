/**
 * What the pilot can run, as one object: the one place that counts slots and resources (cores, GPUs,
 * memory: resource-pool.ts) and asks the time budget. A reservation is a permit with a lifecycle:
 * `tryReserve` hands one out to a held token about to start (with its cores and GPUs), `release` gives it
 * back (when the command ends, or when its result is written), and `handOver` passes it on to a dependent
 * the completing token took, so a chain goes on in the same room.
 *
 * Three questions:
 *  - `fits`: does the pilot take this token at all (a claim's candidates, the dependents a completion may
 *    take)? Its expected runtime plus the margin fits in the time left, and its needs fit the pilot empty.
 *  - `claimFilter`: which candidates does this claim take? Those that fit what is free now, less what the
 *    held tokens waiting to start need (one-core tokens as many as the prefetch asks, as before), and a
 *    larger token that waited longer than `--reserve-after`: the pilot reserves room for it (it waits at
 *    the head of the queue, and no smaller token starts before it).
 *  - `tryReserve`: may a held token start now? A free slot, and its cores, GPUs and memory free.
 */
import { fitsInto, isDefaultShape, tokenNeeds, type Resources, type TokenDoc } from '@picas/core';
import type { ClaimRoom } from '@picas/core/ops/claim';
import { prefetchCores, prefetchDepth, type PrefetchSetting } from './prefetch.js';
import { ResourcePool, type Grant, type PoolShape } from './resource-pool.js';
import type { TimeBudget } from './time-budget.js';

/**
 * Why a token does not fit. Only 'time-budget' says that no token of its size will fit this pilot again;
 * 'too-large' that this token never will (it stays todo for a larger pilot).
 */
export type Unfit =
  | { fits: false; reason: 'no-free-slot' }
  | { fits: false; reason: 'no-room'; needs: Resources; free: Resources }
  | { fits: false; reason: 'too-large'; needs: Resources; total: Resources }
  | { fits: false; reason: 'time-budget'; expectedMs: number; remainingMs: number; marginMs: number };

/** What Capacity reads of a token: its id, and what it needs (resources.ts). */
export interface SizedToken {
  _id: string;
  resources?: unknown;
}

export type Fit = { fits: true } | Unfit;

export type ReservationState = 'held' | 'released' | 'handed-over';

/** why a slot was given back: its command ended (its result is written meanwhile), or the token is finished with */
export type ReleaseReason = 'command-ended' | 'finished';

export interface Reservation {
  readonly tokenId: string;
  readonly state: ReservationState;
  /** set once released */
  readonly releasedFor?: ReleaseReason;
  /** the cores, GPUs and memory it holds */
  readonly grant: Grant;
}

interface Permit {
  tokenId: string;
  state: ReservationState;
  releasedFor?: ReleaseReason;
  grant: Grant;
}

export interface CapacityOptions {
  /** the most tokens running at once */
  slots: number;
  budget: TimeBudget;
  /** cores, GPUs and memory (pilot-resources.ts); default: `slots` cores, no GPUs, memory not counted */
  pool?: PoolShape;
  /** --reserve-after (ms); undefined: never reserve */
  reserveAfterMs?: number;
  /** --pin, with taskset found: each token bound to its cores */
  pin?: boolean;
}

/** One claim's choice of candidates (claim-loop.ts): `accept` also books what it accepted. */
export interface ClaimFilter {
  room: ClaimRoom;
  accept(doc: TokenDoc): Fit;
  /** the token accepted as waiting longer than --reserve-after, for which the pilot reserves its room */
  readonly reserving?: TokenDoc;
}

const FITS: Fit = { fits: true };

export class Capacity {
  private reserved = 0;
  private readonly pool: ResourcePool;

  constructor(private readonly options: CapacityOptions) {
    this.pool = new ResourcePool(options.pool ?? { cpus: options.slots, gpus: [], mem: Number.MAX_SAFE_INTEGER });
  }

  /** whether tokens are bound to their cores (token-placement.ts) */
  get pin(): boolean {
    return this.options.pin ?? false;
  }

  /** All the pilot has: cores, GPU count, memory. */
  get total(): Resources {
    return this.pool.total();
  }

  get slots(): number {
    return this.options.slots;
  }

  /** reservations held now (commands running, or slots passed on to a chain) */
  get inUse(): number {
    return this.reserved;
  }

  /** one-core tokens that could start now: free slots, and free cores */
  free(): number {
    return Math.max(0, Math.min(this.options.slots - this.reserved, this.pool.free().cpus));
  }

  /** Whether the pilot takes this token at all: its expected runtime fits the time budget, its needs the pilot. */
  fits(token: Pick<TokenDoc, 'expected_seconds'> & { resources?: unknown }, nowMs = Date.now()): Fit {
    const { budget } = this.options;
    if (!budget.fits(token, nowMs)) {
      return { fits: false, reason: 'time-budget', expectedMs: budget.expectedMs(token), remainingMs: budget.remainingMs(nowMs), marginMs: budget.settings.marginMs };
    }
    const needs = tokenNeeds(token);
    if (!fitsInto(needs, this.total)) return { fits: false, reason: 'too-large', needs, total: this.total };
    return FITS;
  }

  /**
   * The room a claim has: free now less what the held tokens waiting to start need, and the whole pilot.
   * `accept` takes a candidate that fits the pilot and the room (booking it); beyond the room, as the
   * prefetch asks: one-core tokens while the room had a core at the start (the claim's `max` decides how
   * many), and larger tokens whose shape the room had at the start, up to `depth` of them and `aheadCores`
   * cores in all (default `depth`; they wait in the queue and start as the ones before them end, so a pool
   * of large tokens is claimed many per request too); and a larger token that waited longer than
   * --reserve-after, once: it then takes all the room.
   */
  claimFilter(queued: readonly SizedToken[], options: { depth?: number; aheadCores?: number; nowMs?: number } = {}): ClaimFilter {
    const { depth = 1, nowMs = Date.now() } = options;
    const aheadCores = options.aheadCores ?? depth;
    const now = this.pool.free();
    let reserving = false;
    for (const doc of queued) {
      const needs = tokenNeeds(doc);
      reserving ||= !fitsInto(needs, now);
      book(now, needs);
    }
    const room: ClaimRoom = { now: { ...now }, empty: this.total, reserveAfterMs: reserving ? undefined : this.options.reserveAfterMs };
    const start = { ...now };
    /** the larger tokens taken beyond the room, and their cores */
    let ahead = 0;
    let aheadTokens = 0;
    const filter: ClaimFilter & { reserving?: TokenDoc } = {
      room,
      accept: (doc) => {
        const fit = this.fits(doc, nowMs);
        if (!fit.fits) return fit;
        const needs = tokenNeeds(doc);
        const noRoom: Unfit = { fits: false, reason: 'no-room', needs, free: { ...now } };
        if (isDefaultShape(needs)) return start.cpus >= 1 && !reserving ? FITS : noRoom;
        if (fitsInto(needs, now)) {
          book(now, needs);
          return FITS;
        }
        if (reserving) return noRoom;
        if (this.options.reserveAfterMs !== undefined && (Number(doc.created) || Infinity) * 1000 <= nowMs - this.options.reserveAfterMs) {
          reserving = true;
          filter.reserving = doc;
          book(now, needs);
          return FITS;
        }
        if (!fitsInto(needs, start) || ahead + needs.cpus > aheadCores || aheadTokens + 1 > depth) return noRoom;
        ahead += needs.cpus;
        aheadTokens++;
        return FITS;
      },
    };
    return filter;
  }

  /** A permit to start a held token now: a free slot, and its cores, GPUs and memory free. */
  tryReserve(token: SizedToken): Reservation | Unfit {
    if (this.reserved >= this.options.slots) return { fits: false, reason: 'no-free-slot' };
    const needs = tokenNeeds(token);
    const grant = this.pool.tryTake(needs);
    if (!grant) return { fits: false, reason: 'no-room', needs, free: this.pool.free() };
    this.reserved++;
    return { tokenId: token._id, state: 'held', grant } satisfies Permit;
  }

  /** Gives a held reservation back; false (and nothing changes) when it was released or handed over before. */
  release(reservation: Reservation, reason: ReleaseReason): boolean {
    const permit = reservation as Permit;
    if (permit.state !== 'held') return false;
    permit.state = 'released';
    permit.releasedFor = reason;
    this.reserved--;
    this.pool.give(permit.grant);
    return true;
  }

  /** Whether a held reservation can pass on to this dependent: what it holds plus what is free covers the dependent's needs. */
  canHandOver(reservation: Reservation, dependent: SizedToken): boolean {
    if (reservation.state !== 'held') return false;
    const free = this.pool.free();
    const held = reservation.grant.needs;
    return fitsInto(tokenNeeds(dependent), { cpus: free.cpus + held.cpus, gpus: free.gpus + held.gpus, mem: free.mem + held.mem });
  }

  /**
   * Passes a held reservation on to a dependent of its token: the slot stays taken, by the dependent now,
   * with the room the dependent needs (check `canHandOver` first when the shapes may differ).
   */
  handOver(reservation: Reservation, dependent: SizedToken): Reservation {
    const permit = reservation as Permit;
    if (permit.state !== 'held') throw new Error(`handOver: the reservation of ${permit.tokenId} is ${permit.state}, not held`);
    const needs = tokenNeeds(dependent);
    let grant = permit.grant;
    if (!sameNeeds(needs, grant.needs)) {
      this.pool.give(grant);
      const taken = this.pool.tryTake(needs);
      if (!taken) {
        permit.grant = this.pool.tryTake(grant.needs)!;
        throw new Error(`handOver: ${dependent._id} needs more than ${permit.tokenId} holds and is free`);
      }
      grant = taken;
    }
    permit.state = 'handed-over';
    return { tokenId: dependent._id, state: 'held', grant } satisfies Permit;
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

  /** Cores of larger tokens the next claim may take beyond the room (prefetch.ts). */
  claimAheadCores(setting: PrefetchSetting, depth: number, bulkAllowed: boolean): number {
    return prefetchCores(setting, depth, { cpus: this.total.cpus, bulkAllowed, meanRuntimeMs: this.options.budget.meanMs() });
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

function sameNeeds(a: Resources, b: Resources): boolean {
  return a.cpus === b.cpus && a.gpus === b.gpus && a.mem === b.mem;
}

/** Takes `needs` out of `room` (in place; never below zero). */
function book(room: Resources, needs: Resources): void {
  room.cpus = Math.max(0, room.cpus - needs.cpus);
  room.gpus = Math.max(0, room.gpus - needs.gpus);
  room.mem = Math.max(0, room.mem - needs.mem);
}
