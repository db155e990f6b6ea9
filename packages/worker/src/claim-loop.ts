/**
 * The pilot's claim loop: it starts held tokens as slots free, claims more while there is room, and
 * decides when the pilot leaves. It is always in one named mode (each change logged at debug level):
 *  - claiming: asking the pool for tokens (settling due unconfirmed claims first);
 *  - busy: every slot taken, --max-tokens claimed, or nothing to claim while our tokens run: waiting for them;
 *  - contended: claims lost to other pilots, or only accepted by some replicas (202): a short pause;
 *  - degraded: 202s because a replica is out of reach (cluster-health.ts): backing off;
 *  - unavailable: CouchDB did not answer: backing off, for --retry-for at most;
 *  - settling: the pool looks empty but claims of ours got no clear answer: settling them before leaving;
 *  - waiting-for-dependencies: the pool is empty but tokens wait for dependencies that still run;
 *  - idle: `--endless` with nothing to claim: waiting for new tokens;
 *  - leaving: the repair before exit, and the stop.
 * `run()` returns why the pilot stops.
 */
import { FailureStreak, shapeLabel, sleep, tokenNeeds, UnreachableError, type CouchHttp, type Logger, type TokenDoc } from '@picas/core';
import type { Claimer, ClaimRound } from '@picas/core/ops/claim';
import { readReplicas } from '@picas/core/ops/replicas';
import type { Capacity, Unfit } from './capacity.js';
import type { ClusterHealth } from './cluster-health.js';
import type { ConflictRepairer } from './conflict-repairer.js';
import type { DependencyKeeper } from './dependency-keeper.js';
import { OversizedTokens } from './oversized-tokens.js';
import type { WorkerOptions } from './options.js';
import type { ResultWriter } from './result-writer.js';
import type { Scheduler } from './scheduler.js';
import type { StopSwitch } from './stop-switch.js';
import { finiteSeconds, type TokenCounts } from './summary.js';
import type { UnconfirmedClaims } from './unconfirmed-claims.js';
import { waitForChanges } from './wait-for-tokens.js';

export type LoopMode = 'claiming' | 'busy' | 'contended' | 'degraded' | 'unavailable' | 'settling' | 'waiting-for-dependencies' | 'idle' | 'leaving';

/** what a step decided: go on (undefined), or stop for this reason */
type Step = string | undefined;

export class ClaimLoop {
  private mode: LoopMode = 'claiming';
  /** claims that found CouchDB unavailable, in a row */
  private readonly claimOutage: FailureStreak;
  /** sweeps of the waiting tokens that failed, in a row */
  private readonly sweepOutage: FailureStreak;
  private repairedBeforeExit = false;
  private unfitLogged = false;
  /** says once which shapes waiting in the pool exceed this pilot */
  private readonly oversized: OversizedTokens;
  private waitLogged = false;

  constructor(
    private readonly parts: {
      http: CouchHttp;
      options: WorkerOptions;
      log: Logger;
      counts: TokenCounts;
      claimer: Claimer;
      capacity: Capacity;
      scheduler: Scheduler;
      writer: ResultWriter;
      unconfirmed: UnconfirmedClaims;
      health: ClusterHealth;
      deps: DependencyKeeper;
      repairer: ConflictRepairer;
      stop: StopSwitch;
      /** claims may ask for several tokens (prefetch.ts) */
      bulkAllowed: boolean;
    },
  ) {
    const { retryFor } = parts.options;
    this.claimOutage = new FailureStreak({ baseMs: 500, maxMs: 15_000, limitMs: retryFor });
    this.sweepOutage = new FailureStreak({ baseMs: 1000, maxMs: 15_000, limitMs: retryFor });
    this.oversized = new OversizedTokens(parts.log);
  }

  /** Runs until the pilot stops; why it stops. */
  async run(): Promise<string> {
    const { stop } = this.parts;
    while (!stop.stopping) {
      const reason = await this.step();
      if (reason !== undefined) {
        this.enter('leaving');
        return reason;
      }
    }
    this.enter('leaving');
    return stop.request?.reason ?? 'stopped';
  }

  private enter(mode: LoopMode): void {
    if (mode === this.mode) return;
    this.parts.log.debug({ mode, from: this.mode }, `claim loop: ${mode}`);
    this.mode = mode;
  }

  private async waitForOurTokens(): Promise<Step> {
    this.enter('busy');
    await this.parts.scheduler.nextEvent();
    return undefined;
  }

  private async step(): Promise<Step> {
    const { options: o, scheduler, capacity, counts, stop, claimer, unconfirmed, health } = this.parts;
    if (scheduler.startReady()) return undefined;
    const want = Math.min(capacity.claimDepth(o.prefetch, this.parts.bulkAllowed), (o.maxTokens ?? Infinity) - counts.claimed);
    const filter = capacity.claimFilter(scheduler.queuedDocs, { depth: want, aheadCores: capacity.claimAheadCores(o.prefetch, want, this.parts.bulkAllowed) });
    if (capacity.free() === 0 || filter.room.now.cpus === 0) return this.waitForOurTokens();
    if (o.maxTokens !== undefined && counts.claimed >= o.maxTokens) {
      if (!scheduler.busy) return `--max-tokens ${o.maxTokens} reached`;
      return this.waitForOurTokens();
    }
    this.enter('claiming');
    await unconfirmed.settleDue(stop.signal);
    const since = o.endless ? await this.currentSeq() : undefined;
    this.parts.writer.flush();
    let unfit: Unfit | undefined;
    const accept = (doc: TokenDoc) => {
      const fit = filter.accept(doc);
      // a token too long for the time left is what ends the pilot: that reason wins
      if (!fit.fits && unfit?.reason !== 'time-budget') unfit = fit;
      return fit.fits;
    };
    const recorded = scheduler.recorded;
    let round: ClaimRound;
    try {
      round = await claimer.claim({ max: Math.max(1, want), accept, signal: stop.signal, room: filter.room });
    } catch (err) {
      if (stop.stopping) return undefined; // the stop cut a view read short: nothing was claimed
      throw err;
    }
    // claims only accepted (202) are settled even when the stop came while they were in flight
    for (const c of claimer.takeUnconfirmed()) {
      this.parts.log.debug({ token: c.id, claim_id: c.claimId, answer: c.answer }, 'claim not won for sure (a 202, or no clear answer): not run, settled later');
      unconfirmed.add(c);
    }
    // won just as the stop came: never started, put back by releaseQueued(). A token won for a reservation
    // (--reserve-after) waits at the head of the queue, before the smaller tokens this same claim took
    const reserved = filter.reserving?._id;
    const won = [...round.won.filter((w) => w.doc._id === reserved), ...round.won.filter((w) => w.doc._id !== reserved)];
    for (const w of won) scheduler.adopt(w.doc, w.reclaimed);
    if (stop.stopping) return undefined;
    this.noteReservation(filter.reserving, round);
    this.oversized.note(claimer.shapes, capacity.total);
    if (round.outcome !== 'unavailable') this.claimOutage.succeed();
    health.note(round.outcome);
    switch (round.outcome) {
      case 'won':
        return undefined;
      case 'contended':
        this.enter('contended');
        await sleep(round.retryAfterMs ?? 20 + Math.random() * 200, stop.signal);
        return undefined;
      case 'accepted': {
        // a 202: another pilot's claim reached some replicas first (contention), or a replica is out of reach
        const verdict = await health.afterAccepted(claimer.stats.accepted);
        this.enter(verdict.mode);
        await sleep(verdict.delayMs, stop.signal);
        return undefined;
      }
      case 'unavailable':
        return this.backOffOutage(round);
      case 'unfit':
      case 'empty':
        return this.nothingToClaim(round.outcome === 'unfit' ? unfit : undefined, round, since, recorded);
    }
  }

  /** Says when the pilot won a token that waited longer than --reserve-after: it starts no smaller token until that one runs. */
  private noteReservation(token: TokenDoc | undefined, round: ClaimRound): void {
    if (!token || !round.won.some((w) => w.doc._id === token._id)) return;
    const waitedS = Math.round(Date.now() / 1000 - Number(token.created));
    const needs = tokenNeeds(token);
    this.parts.log.info({ token: token._id, needs, waited_s: waitedS }, `reserving room for ${token._id} (${shapeLabel(needs)}), waiting ${waitedS}s (--reserve-after): no smaller token starts before it`);
  }

  private async backOffOutage(round: ClaimRound): Promise<Step> {
    const { options: o, scheduler, stop, log } = this.parts;
    const outage = this.claimOutage.fail();
    if (outage.expired && scheduler.runningCount === 0) {
      throw new UnreachableError(`${round.error?.message ?? 'CouchDB unavailable'}; gave up after ${Math.round(o.retryFor / 1000)}s (--retry-for)`, { cause: round.error });
    }
    this.enter('unavailable');
    log.warn({ err: round.error, delay_ms: outage.delayMs }, 'CouchDB unavailable while claiming, retrying');
    await sleep(outage.delayMs, stop.signal);
    return undefined;
  }

  /** The claim found nothing this pilot takes: wait for our tokens, settle, wait for dependencies or new tokens, or leave. */
  private async nothingToClaim(unfit: Unfit | undefined, round: ClaimRound, since: unknown, recordedBefore: number): Promise<Step> {
    const { scheduler, unconfirmed, claimer, stop, log } = this.parts;
    // only a token too long for the time left ends the pilot (a token that fits later, when slots free, does not)
    const neverFits = unfit?.reason === 'time-budget' ? unfit : undefined;
    if (neverFits && !this.unfitLogged) {
      this.unfitLogged = true;
      log.info(
        { remaining_s: finiteSeconds(neverFits.remainingMs), expected_s: neverFits.expectedMs / 1000, margin_s: neverFits.marginMs / 1000, example: round.unfitExample?._id },
        'time budget: the next token does not fit in the time left; not claiming',
      );
    }
    if (scheduler.busy) {
      // nothing more to claim: what has finished is written now, not when the window ends
      if (scheduler.queued === 0) this.parts.writer.flush();
      return this.waitForOurTokens();
    }
    // a token of ours was recorded while the claim looked (put back to todo for a retry, say): look again
    if (scheduler.recorded !== recordedBefore) return undefined;
    if (neverFits) return 'time budget: no token fits in the time left';
    // never leave while our own 202 claims hold tokens: wait out replication, settle them, claim again
    if (unconfirmed.size > 0) {
      this.enter('settling');
      const wait = unconfirmed.nextDueInMs();
      log.info({ unconfirmed: unconfirmed.size, wait_ms: wait }, 'the pool looks empty, but claims of ours were not answered for sure (a 202, or no clear answer): settling them before leaving');
      await sleep(wait, stop.signal);
      await unconfirmed.settleDue(stop.signal);
      claimer.forget();
      return undefined;
    }
    return this.waitOrLeave(since);
  }

  /**
   * Nothing to claim and nothing of ours left: release the tokens whose dependencies are done (a pilot may
   * have died between a completion and its release), wait while others still run dependencies, wait for
   * new tokens (`--endless`), or leave.
   */
  private async waitOrLeave(since: unknown): Promise<Step> {
    const { options: o, deps, claimer, stop, log } = this.parts;
    // --endless: the update seq from before the claim; else from before the sweep
    const seq = o.endless ? since : await this.currentSeq();
    const settled = await deps.sweep();
    if (!settled && !o.endless) {
      // the sweep failed (logged; a view read timed out under load, CouchDB away): tokens may still wait
      // for dependencies that are done. Leaving now could strand them: look again, for --retry-for at most
      const outage = this.sweepOutage.fail();
      if (!outage.expired) {
        await sleep(outage.delayMs, stop.signal);
        claimer.forget();
        return undefined;
      }
      log.warn({ failing_s: Math.round(outage.failingMs / 1000) }, 'the sweep of waiting tokens kept failing (--retry-for): leaving; picas repair, or any other pilot, releases what waits');
    } else {
      this.sweepOutage.succeed();
    }
    if (settled && settled.released.length > 0) return undefined;
    if (!o.endless && settled && settled.waiting > 0) {
      this.enter('waiting-for-dependencies');
      const level = this.waitLogged ? 'debug' : 'info';
      this.waitLogged = true;
      log[level]({ waiting: settled.waiting }, `pool empty; ${settled.waiting} token(s) wait for dependencies that still run: waiting for them`);
      await this.waitForChanges(seq);
      return undefined;
    }
    if (o.endless) {
      this.enter('idle');
      const r = await this.waitForChanges(seq);
      log.debug({ wait: r }, 'waited for new tokens');
      return undefined;
    }
    // before leaving, put back any token left split by a cluster (only-202 claims)
    this.enter('leaving');
    if (!this.repairedBeforeExit && o.repairInterval > 0) {
      this.repairedBeforeExit = true;
      const report = await this.parts.repairer.runOnce();
      if (report && report.repaired.some((r) => r.state === 'todo')) return undefined;
    }
    return 'no tokens left';
  }

  /** Waits (60 s at most) for a change in the database after `since`; other pilots' writes wake every idle
   * pilot too, so a burst of changes is gathered before looking again. */
  private async waitForChanges(since: unknown): Promise<string> {
    const { http, options: o, claimer, stop, log } = this.parts;
    const r = await waitForChanges(http, { since, signal: stop.signal, pollIntervalMs: o.pollInterval, timeoutMs: 60_000, log });
    if (r === 'changed') await sleep(250 + Math.random() * 750, stop.signal);
    claimer.forget();
    return r;
  }

  private async currentSeq(): Promise<unknown> {
    try {
      return (await readReplicas(this.parts.http, { signal: this.parts.stop.signal })).updateSeq;
    } catch {
      return undefined;
    }
  }
}
