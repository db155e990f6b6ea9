/**
 * Runs the tokens this pilot holds: claimed tokens wait in a queue until the capacity gives them a slot;
 * each then runs (token-work: its shell command, or a function) while its lease is kept, and its result is written
 * (result-writer). A completion that released dependents takes those the pilot has room for, and passes its
 * slot on to the first, so a chain goes on here (docs/dag.md). Tokens still queued when the pilot stops go
 * back to todo.
 */
import { shapeLabel, tokenNeeds, type CouchHttp, type Logger, type TokenDoc } from '@picas/core';
import type { Claimer } from '@picas/core/ops/claim';
import type { SettleReport, TakeReleased } from '@picas/core/ops/release-dependents';
import { isUnfit, type Capacity, type Reservation } from './capacity.js';
import type { DependencyKeeper } from './dependency-keeper.js';
import { holdToken, type HeldToken } from './held-token.js';
import type { WorkerOptions } from './options.js';
import type { OrphanGuard } from './orphan-guard.js';
import type { ResultWriter } from './result-writer.js';
import type { RunFiles } from './run-files.js';
import type { StopRequest, StopSwitch } from './stop-switch.js';
import type { TokenCounts } from './summary.js';
import type { TokenWork } from './token-work.js';
import type { UnconfirmedClaims } from './unconfirmed-claims.js';

/** A token taken from the queue and not yet recorded: its command runs, or its result is being written. */
interface Running {
  held: HeldToken;
  reservation: Reservation;
  controller: AbortController;
  done: Promise<void>;
  pid?: number;
}

export class Scheduler {
  private readonly queue: HeldToken[] = [];
  private readonly running = new Map<string, Running>();
  private wake?: () => void;
  /** tokens recorded so far (whatever became of them) */
  private recordedCount = 0;

  constructor(
    private readonly parts: {
      http: CouchHttp;
      options: WorkerOptions;
      log: Logger;
      counts: TokenCounts;
      capacity: Capacity;
      claimer: Claimer;
      writer: ResultWriter;
      deps: DependencyKeeper;
      unconfirmed: UnconfirmedClaims;
      guard: OrphanGuard;
      runFiles: RunFiles;
      /** what running a token means: its shell command (shell-work.ts), or a function (function-work.ts) */
      work: TokenWork;
      stop: StopSwitch;
    },
  ) {
    parts.stop.onStop((request) => {
      for (const r of this.running.values()) r.controller.abort(abortReason(request));
      this.wake?.();
    });
  }

  /** tokens held and waiting for a slot */
  get queued(): number {
    return this.queue.length;
  }

  /** the tokens held and waiting for a slot (what they need is not free yet) */
  get queuedDocs(): TokenDoc[] {
    return this.queue.map((held) => held.doc);
  }

  /** tokens started and not yet recorded */
  get runningCount(): number {
    return this.running.size;
  }

  /** tokens started and not yet recorded, per shape (shapeLabel), e.g. `{"4 cpu": 1, "1 cpu": 2}` */
  runningShapes(): Record<string, number> {
    const shapes: Record<string, number> = {};
    for (const r of this.running.values()) {
      const label = shapeLabel(tokenNeeds(r.held.doc));
      shapes[label] = (shapes[label] ?? 0) + 1;
    }
    return shapes;
  }

  /** how many started tokens were recorded so far: a change tells that one finished meanwhile */
  get recorded(): number {
    return this.recordedCount;
  }

  /** whether any held token is running, being recorded, or waiting to start */
  get busy(): boolean {
    return this.running.size > 0 || this.queue.length > 0;
  }

  /** A token won by a claim: its lease is kept from now on, and it waits for a slot. */
  adopt(doc: TokenDoc, reclaimed: boolean): void {
    this.parts.counts.claimed++;
    this.queue.push(this.hold(doc, reclaimed));
  }

  /** Starts queued tokens while the capacity gives them a slot; whether any started. */
  startReady(): boolean {
    let started = false;
    while (this.queue.length > 0) {
      const reservation = this.parts.capacity.tryReserve(this.queue[0]!.doc);
      if (isUnfit(reservation)) break;
      this.start(this.queue.shift()!, reservation);
      started = true;
    }
    return started;
  }

  /** Waits until a token finishes, a slot frees, a dependent is taken, or the pilot stops. */
  nextEvent(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Waits for every started token to be recorded. */
  async drain(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** Queued tokens that never started go back to todo. */
  async releaseQueued(): Promise<void> {
    for (const held of this.queue.splice(0)) await this.parts.writer.putBack(held);
  }

  /** SIGKILLs every running command's process group; how many were signalled. */
  killAll(): number {
    let killed = 0;
    for (const r of this.running.values()) {
      if (r.pid === undefined) continue;
      try {
        process.kill(-r.pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
    return killed;
  }

  private hold(doc: TokenDoc, reclaimed: boolean): HeldToken {
    return holdToken(this.parts.http, doc, { reclaimed, leaseMs: this.parts.options.lease, log: this.parts.log });
  }

  private start(held: HeldToken, reservation: Reservation): void {
    const entry: Running = { held, reservation, controller: new AbortController(), done: Promise.resolve() };
    this.running.set(held.doc._id, entry);
    entry.done = this.process(entry)
      .catch((err: unknown) => {
        this.parts.counts.lost++;
        held.log.error({ err }, 'could not record the token; it stays locked until its lease expires, then another pilot runs it');
      })
      .finally(() => {
        this.release(entry, 'finished');
        this.running.delete(held.doc._id);
        this.recordedCount++;
        this.wake?.();
      });
  }

  /** Gives the entry's slot back (once): the next token may start while this result is written. */
  private release(entry: Running, reason: 'command-ended' | 'finished'): void {
    if (!this.parts.capacity.release(entry.reservation, reason)) return;
    entry.pid = undefined;
    this.wake?.();
  }

  /** Runs one held token and records what happened. */
  private async process(entry: Running): Promise<void> {
    const { options: o, runFiles, guard, stop } = this.parts;
    const { held, controller } = entry;
    const { keeper, log } = held;
    if (keeper.lostInfo) {
      await keeper.stop();
      this.parts.counts.lost++;
      return;
    }
    const onLost = () => controller.abort({ lost: keeper.lostInfo });
    keeper.lost.signal.addEventListener('abort', onLost, { once: true });
    if (stop.request) controller.abort(abortReason(stop.request));

    const paths = runFiles.forRun(held.doc._id);
    const outcome = await this.parts.work.run({
      doc: held.doc,
      log,
      paths,
      grant: entry.reservation.grant,
      signal: controller.signal,
      onSpawn: (pid) => {
        guard.add(pid);
        entry.pid = pid;
      },
    });
    if (outcome.pid !== undefined) guard.remove(outcome.pid);
    // a command that exited by itself frees its slot now; one killed by a signal keeps it until its result
    // is recorded: under Slurm that signal is usually the job being cancelled, and the pilot's own SIGTERM
    // is an instant behind (record() waits for it), so no new token should be claimed meanwhile. A token
    // with dependents that succeeded keeps its slot until they are released: the slot goes to the dependent
    // this pilot takes (takeReleased), so a chain goes on here instead of waiting for another pilot's claim
    const handsOn = outcome.exitCode === 0 && !!held.doc.has_dependents;
    if (!outcome.signal && !controller.signal.aborted && !handsOn) this.release(entry, 'command-ended');
    if (outcome.leftovers) log.warn('the command left processes running in its group; they were stopped');
    await keeper.stop();
    keeper.lost.signal.removeEventListener('abort', onLost);
    try {
      const written = await this.parts.writer.record(held, outcome, paths, controller.signal);
      if (written) {
        const take = written.kind === 'done' ? this.takeReleased(entry.reservation) : undefined;
        const settled = await this.parts.deps.afterCompletion(written.doc, written.kind, log, take);
        if (settled) this.adoptTaken(settled, entry);
      }
    } finally {
      if (!o.keepTokenDirs) runFiles.removeRun(paths);
    }
  }

  /**
   * Which dependents released by a completion this pilot takes (locked by it in the release write): as many as
   * the capacity has room for, counting the slot the completing token still holds (process(): a token with
   * dependents that succeeded keeps it until now), when it would claim now anyway (not stopping, under
   * --max-tokens, the token fits). A chain then runs on, on this pilot, without a release write and a claim
   * by some other pilot.
   */
  private takeReleased(own: Reservation): TakeReleased | undefined {
    const { options: o, capacity, counts, stop, claimer } = this.parts;
    let room = Math.min(capacity.roomForTakes(own, this.queue.length), (o.maxTokens ?? Infinity) - counts.claimed);
    if (room <= 0 || stop.stopping) return undefined;
    return (token) => {
      if (room <= 0 || stop.stopping || !capacity.fits(token).fits) return undefined;
      room--;
      return claimer.claimInfo();
    };
  }

  /**
   * The dependents a completion took: the first inherits the completing token's slot and starts now, the
   * others queue like won claims; those not won for sure (a 202, no clear answer) are settled later.
   */
  private adoptTaken(settled: SettleReport, completed: Running): void {
    for (const doc of settled.taken) {
      this.parts.counts.taken++;
      if (this.parts.capacity.canHandOver(completed.reservation, doc) && !this.parts.stop.stopping) {
        this.parts.counts.claimed++;
        completed.pid = undefined;
        this.start(this.hold(doc, false), this.parts.capacity.handOver(completed.reservation, doc));
      } else {
        this.adopt(doc, false);
      }
    }
    for (const c of settled.unconfirmed) this.parts.unconfirmed.add({ ...c, atMs: Date.now() });
    if (settled.taken.length > 0) this.wake?.();
  }
}

function abortReason(request: StopRequest): { stop: StopRequest['kind']; reason: string } {
  return { stop: request.kind, reason: request.reason };
}
