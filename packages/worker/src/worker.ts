/**
 * The pilot loop: claim a token (ops/claim), run it (token-runner) while its lease is kept alive
 * (lease-keeper), record the result (ops/complete), and go on until a stop condition:
 *  - the pool is empty and none of our tokens run (default), or forever with `--endless`;
 *  - `--max-tokens` claimed, `--max-time` passed, or the time budget leaves no room for the next token;
 *  - `stop()` (the first SIGTERM/SIGINT): stop claiming, stop the running commands, and put their tokens
 *    back to todo (`--on-signal requeue`) or mark them error (`--on-signal fail`).
 * Up to `--slots` tokens run at once.
 */
import { mkdirSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backoffDelay, cpuTimeMs, FailureStreak, jobIdFromEnv, sleep, UnreachableError, type Couch, type Logger, type RunResult, type TokenDoc } from '@picas/core';
import { Claimer, emptyClaimStats, type ClaimRound } from '@picas/core/ops/claim';
import { completeToken } from '@picas/core/ops/complete';
import { CompletionBatcher } from '@picas/core/ops/complete-batch';
import { requeueToken } from '@picas/core/ops/release';
import { claimQuorumIsUnsafe, claimWriteQuorum, readReplicas, type Replicas } from '@picas/core/ops/replicas';
import { readMembership, type Membership } from '@picas/core/ops/membership';
import { settleUnconfirmedClaim, type UnconfirmedClaim } from '@picas/core/ops/settle-claim';
import type { SettleReport, TakeReleased } from '@picas/core/ops/release-dependents';
import type { WorkerOptions } from './options.js';
import { LeaseKeeper } from './lease-keeper.js';
import { captureLog, textAttachment } from './log-capture.js';
import { runCommand, type RunOutcome } from './token-runner.js';
import { TimeBudget } from './time-budget.js';
import { waitForChanges } from './wait-for-tokens.js';
import { ConflictRepairer } from './conflict-repairer.js';
import { safeFileName } from './worker-id.js';
import { OrphanGuard } from './orphan-guard.js';
import { AUTO_PREFETCH_AHEAD_MS, prefetchCap, prefetchDepth } from './prefetch.js';
import { DependencyKeeper } from './dependency-keeper.js';
import { PilotRecord, pilotEndState } from './pilot-record.js';

export interface WorkerContext {
  couch: Couch;
  options: WorkerOptions;
  log: Logger;
  workerId: string;
  hostname: string;
  /** the pilot's environment (Slurm variables; the base of each token's environment) */
  env: Record<string, string | undefined>;
}

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
  unconfirmed?: { withdrawn: number; repaired: number; settled: number; retried: number; pending: number };
}

/**
 * How long a claim answered 202 is left before it is settled: CouchDB's internal replication merges the
 * replicas' edits after `[mem3] sync_delay` (5 s), and only then are all the claims on a token visible.
 */
export const SETTLE_DELAY_MS = 6000;
/** a claim still uncertain after this many looks is left to the periodic repair and the lease */
const SETTLE_TRIES = 10;

/** A claimed token and everything that keeps it: its lease keeper and the claim that fences writes. */
interface Held {
  doc: TokenDoc;
  claimId: string;
  keeper: LeaseKeeper;
  log: Logger;
  reclaimed: boolean;
}

interface StopRequest {
  kind: 'signal' | 'max-time' | 'fatal';
  reason: string;
}

export function summaryLine(s: WorkerSummary): string {
  return `picas-worker ${s.worker}: done ${s.done}, failed ${s.failed}, requeued ${s.requeued}, lost ${s.lost}, wall ${(s.wallMs / 1000).toFixed(1)}s`;
}

export class Worker {
  private readonly http;
  private readonly log: Logger;
  private readonly started = Date.now();
  private stopRequest?: StopRequest;
  private readonly stopController = new AbortController();
  /** tokens taken from the queue and not yet recorded: their command runs, or their result is being written */
  private readonly running = new Map<string, { held: Held; controller: AbortController; done: Promise<void>; pid?: number }>();
  /** commands running now: what --slots limits (a finished command's result may still be being written) */
  private executing = 0;
  private readonly queue: Held[] = [];
  private wake?: () => void;
  private readonly counts = { claimed: 0, taken: 0, done: 0, failed: 0, requeued: 0, lost: 0 };
  private budget!: TimeBudget;
  private claimer!: Claimer;
  private replicas!: Replicas;
  private repairer!: ConflictRepairer;
  /** releases and blocks the dependents of completed tokens, and sweeps waiting tokens (docs/dag.md) */
  private deps!: DependencyKeeper;
  /** when claims may be bulk (single node) and --prefetch is not 1: results that finish together share one write */
  private completer?: CompletionBatcher;
  /** a bulk answer proves each win (single node, or a lowered --claim-quorum) */
  private bulkAllowed = false;
  private readonly workRoot: string;
  private readonly guard: OrphanGuard;
  /** numbers the runs' working directories */
  private runSeq = 0;
  /** claims answered 202, waiting to be settled (settle-claim.ts), with how often they were looked at */
  private unconfirmed: Array<UnconfirmedClaim & { tries: number }> = [];
  private readonly settleCounts = { withdrawn: 0, repaired: 0, settled: 0, retried: 0 };
  private membership?: { at: number; value: Membership | undefined };
  /** the claims' write quorum, and the read quorum that sees every replica's leaves (cluster only) */
  private quorum: { w?: number; r?: number } = {};
  /** this pilot's own document (pilot-record.ts), unless --no-pilot-record */
  private pilotRecord?: PilotRecord;

  constructor(private readonly ctx: WorkerContext) {
    this.http = ctx.couch.http;
    this.log = ctx.log;
    this.workRoot = join(ctx.options.workdir ?? tmpdir(), `picas-${safeFileName(ctx.workerId)}`);
    this.guard = new OrphanGuard(join(this.workRoot, 'running-groups'), ctx.options.killGrace);
  }

  get stopping(): boolean {
    return this.stopRequest !== undefined;
  }

  /** The first signal: stop claiming, stop running commands; their tokens are released by the loop. */
  stop(reason: string, kind: StopRequest['kind'] = 'signal'): void {
    if (this.stopRequest) return;
    this.stopRequest = { kind, reason };
    this.log.info({ reason }, `stopping: ${reason}`);
    this.stopController.abort(reason);
    for (const r of this.running.values()) r.controller.abort({ stop: kind, reason });
    this.wake?.();
  }

  /** The second signal: SIGKILL every running command's process group at once (their leases will expire). */
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
    this.guard.killNow();
    return killed;
  }

  async run(): Promise<WorkerSummary> {
    const o = this.ctx.options;
    try {
      this.replicas = await this.connect();
    } catch (err) {
      // a signal during start-up is a normal stop, not a failure
      if (this.stopping) return this.summary(this.stopRequest!.reason);
      throw err;
    }
    const w = claimWriteQuorum(this.replicas, o.claimQuorum);
    this.quorum = { w, r: this.replicas.clustered ? this.replicas.n : undefined };
    const unsafe = claimQuorumIsUnsafe(this.replicas, o.claimQuorum);
    if (unsafe) this.log.warn({ n: this.replicas.n, w }, `--claim-quorum ${String(o.claimQuorum)} is below the ${this.replicas.n} replicas: two pilots may run the same token`);
    const bulkAllowed = this.replicas.n === 1 || unsafe;
    this.bulkAllowed = bulkAllowed;
    if (o.prefetch !== 'auto' && o.prefetch > 1 && !bulkAllowed) {
      this.log.warn({ n: this.replicas.n }, `--prefetch ${o.prefetch} ignored: on a cluster a _bulk_docs answer cannot show that every replica took a claim`);
    }
    this.budget = await TimeBudget.detect({ timeBudgetMs: o.timeBudget, marginMs: o.budgetMargin, runtimeFactor: o.runtimeFactor, startedMs: this.started }, this.ctx.env, this.log);
    this.claimer = new Claimer({
      http: this.http,
      workerId: this.ctx.workerId,
      hostname: this.ctx.hostname,
      leaseMs: o.lease,
      window: o.window,
      reclaimExpired: o.reclaimExpired,
      w,
      bulkAllowed,
      jobId: jobIdFields(this.ctx.env).jobId,
      extra: jobIdFields(this.ctx.env).extra,
    });
    const cap = prefetchCap(o.prefetch, o.slots, bulkAllowed);
    // Results of prefetched tokens wait for company: they go out when the pilot turns to claim more (or has
    // nothing left to run), when a claim's worth has gathered, or after the prefetch horizon at the latest.
    // So a claim of N short tokens costs about one completion write, not one per 200 ms.
    if (cap > 1) this.completer = new CompletionBatcher(this.http, { maxBatch: Math.max(cap, o.slots), windowMs: AUTO_PREFETCH_AHEAD_MS });
    mkdirSync(this.workRoot, { recursive: true });
    this.guard.start();
    this.repairer = new ConflictRepairer(this.http, { intervalMs: o.repairInterval, actor: this.ctx.workerId, log: this.log, ...this.quorum });
    this.repairer.start();
    this.deps = new DependencyKeeper(this.http, { w, actor: this.ctx.workerId, log: this.log, intervalMs: o.repairInterval, env: this.ctx.env });
    this.deps.start();
    this.log.info(
      { n: this.replicas.n, w: w ?? null, slots: o.slots, lease_s: o.lease / 1000, endless: o.endless, budget_s: finiteSeconds(this.budget.remainingMs()) },
      'worker started',
    );
    if (o.pilotRecord) {
      this.pilotRecord = new PilotRecord({ http: this.http, workerId: this.ctx.workerId, hostname: this.ctx.hostname, env: this.ctx.env, slots: o.slots, leaseMs: o.lease, log: this.log, counts: () => this.counts });
      this.pilotRecord.start();
    }
    const maxTime = o.maxTime;
    const maxTimer = maxTime !== undefined ? setTimeout(() => this.stop(`--max-time ${maxTime / 1000}s reached`, 'max-time'), Math.max(0, maxTime - (Date.now() - this.started))) : undefined;
    let stopReason = 'no tokens left';
    let fatal: unknown;
    try {
      stopReason = await this.loop();
    } catch (err) {
      fatal = err;
      this.stop(`fatal: ${(err as Error).message}`, 'fatal');
    } finally {
      if (maxTimer) clearTimeout(maxTimer);
    }
    await Promise.all([...this.running.values()].map((r) => r.done));
    await this.releaseQueued();
    await this.settleBeforeExit();
    await this.repairer.stop();
    await this.deps?.stop();
    await this.guard.stop();
    if (this.stopRequest) stopReason = this.stopRequest.reason;
    if (!this.ctx.options.keepWorkdir) rmSync(this.workRoot, { recursive: true, force: true, maxRetries: 2 });
    const summary = this.summary(stopReason);
    await this.pilotRecord?.finish(pilotEndState(this.stopRequest?.kind, fatal), summary);
    if (fatal) throw fatal;
    return summary;
  }

  private summary(stopReason: string): WorkerSummary {
    const usage = process.resourceUsage();
    return {
      worker: this.ctx.workerId,
      ...this.counts,
      wallMs: Date.now() - this.started,
      peakRssMb: Math.round(usage.maxRSS / 102.4) / 10,
      cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
      commandsCpuMs: finiteOrUndefined(cpuTimeMs('self', { children: true })),
      httpRequests: this.http.requests,
      stopReason,
      claims: this.claimer?.stats ?? emptyClaimStats(),
      claimLatencyMs: this.claimer?.latency() ?? { n: 0, p50: 0, p99: 0 },
      completions: this.completer?.stats,
      unconfirmed: this.replicas?.clustered || Object.values(this.settleCounts).some((n) => n > 0) ? { ...this.settleCounts, pending: this.unconfirmed.length } : undefined,
    };
  }

  /** GET /db with retries (a pilot may start while CouchDB restarts); auth errors are fatal at once. */
  private async connect(): Promise<Replicas> {
    const outage = new FailureStreak({ baseMs: 500, maxMs: 15_000, limitMs: this.ctx.options.retryFor, startedAt: Date.now() });
    for (;;) {
      try {
        return await readReplicas(this.http, { signal: this.stopController.signal });
      } catch (err) {
        const f = outage.fail();
        if (!(err instanceof UnreachableError) || f.expired || this.stopping) throw err;
        this.log.warn({ err, attempt: f.failures, delay_ms: f.delayMs }, 'CouchDB unavailable, retrying');
        await sleep(f.delayMs, this.stopController.signal);
      }
    }
  }

  private async loop(): Promise<string> {
    const o = this.ctx.options;
    let degraded = 0;
    let contendedLogged = false;
    /** claim rounds in a row that ended in 202s only: where /_membership is closed (a member account), many
     * in a row with no 201 at all is what a replica out of reach looks like */
    let acceptedInARow = 0;
    /** claims that found CouchDB unavailable, in a row */
    const claimOutage = new FailureStreak({ baseMs: 500, maxMs: 15_000, limitMs: o.retryFor });
    let repairedBeforeExit = false;
    let unfitLogged = false;
    let waitLogged = false;
    /** sweeps of the waiting tokens that failed, in a row */
    const sweepOutage = new FailureStreak({ baseMs: 1000, maxMs: 15_000, limitMs: o.retryFor });
    while (!this.stopping) {
      if (this.queue.length > 0 && this.executing < o.slots) {
        this.start(this.queue.shift()!);
        continue;
      }
      if (this.executing >= o.slots) {
        await this.nextEvent();
        continue;
      }
      if (o.maxTokens !== undefined && this.counts.claimed >= o.maxTokens) {
        if (this.running.size === 0 && this.queue.length === 0) return `--max-tokens ${o.maxTokens} reached`;
        await this.nextEvent();
        continue;
      }
      await this.settleDue();
      const since = o.endless ? await this.currentSeq() : undefined;
      if (this.completer) void this.completer.flush();
      const depth = prefetchDepth(o.prefetch, { slots: o.slots, bulkAllowed: this.bulkAllowed, meanRuntimeMs: this.budget.meanMs() });
      const want = Math.min(depth, (o.maxTokens ?? Infinity) - this.counts.claimed);
      let round: ClaimRound;
      try {
        round = await this.claimer.claim({ max: Math.max(1, want), accept: (doc) => this.budget.fits(doc), signal: this.stopController.signal });
      } catch (err) {
        if (this.stopping) break; // the stop cut a view read short: nothing was claimed
        throw err;
      }
      // claims only accepted (202) are settled even when the stop came while they were in flight
      for (const c of this.claimer.takeUnconfirmed()) {
        this.log.debug({ token: c.id, claim_id: c.claimId, answer: c.answer }, 'claim not won for sure (a 202, or no clear answer): not run, settled later');
        this.unconfirmed.push({ ...c, tries: 0 });
      }
      if (this.stopping) {
        // won just as the stop came: never started, put back by releaseQueued()
        for (const won of round.won) {
          this.counts.claimed++;
          this.queue.push(this.hold(won.doc, won.reclaimed));
        }
        break;
      }
      if (round.outcome !== 'unavailable') claimOutage.succeed();
      if (round.outcome !== 'accepted') degraded = 0;
      if (round.outcome === 'won') acceptedInARow = 0;
      else if (round.outcome === 'accepted') acceptedInARow++;
      switch (round.outcome) {
        case 'won':
          for (const won of round.won) {
            this.counts.claimed++;
            this.queue.push(this.hold(won.doc, won.reclaimed));
          }
          break;
        case 'contended':
          await sleep(round.retryAfterMs ?? 20 + Math.random() * 200, this.stopController.signal);
          break;
        case 'accepted': {
          // a 202: another pilot's claim reached some replicas first (contention), or a replica is out of reach
          const membership = await this.readMembership();
          if (membership ? membership.missing.length === 0 && acceptedInARow < 20 : acceptedInARow < 8) {
            degraded = 0;
            if (!contendedLogged) {
              contendedLogged = true;
              this.log.info({ n: this.replicas.n }, 'claims contended on the cluster: a claim was only accepted by some replicas (202); it is not run, and is settled once replication merged the replicas');
            }
            await sleep(20 + Math.random() * 200, this.stopController.signal);
            break;
          }
          degraded++;
          const delay = backoffDelay(degraded, 1000, 60_000);
          const missing = !membership
            ? `${acceptedInARow} claims in a row got no 201 (this account cannot read /_membership to name the node)`
            : membership.missing.length > 0
              ? `node(s) ${membership.missing.join(', ')} cannot be reached`
              : `${acceptedInARow} claims in a row got no 201 although every node is connected (a write quorum above the copies that exist?)`;
          this.log.warn(
            { n: this.replicas.n, missing: membership?.missing ?? null, accepted: this.claimer.stats.accepted, delay_ms: delay },
            `cluster degraded: ${missing}; claims need all ${this.replicas.n} replicas (w=${this.replicas.n}), so a claim was only accepted by some of them (202) and is not run. Backing off. (--claim-quorum can lower this, unsafely)`,
          );
          await sleep(delay, this.stopController.signal);
          break;
        }
        case 'unavailable': {
          const outage = claimOutage.fail();
          if (outage.expired && this.running.size === 0) {
            throw new UnreachableError(`${round.error?.message ?? 'CouchDB unavailable'}; gave up after ${Math.round(o.retryFor / 1000)}s (--retry-for)`, { cause: round.error });
          }
          this.log.warn({ err: round.error, delay_ms: outage.delayMs }, 'CouchDB unavailable while claiming, retrying');
          await sleep(outage.delayMs, this.stopController.signal);
          break;
        }
        case 'unfit':
        case 'empty': {
          if (round.outcome === 'unfit' && !unfitLogged) {
            unfitLogged = true;
            const doc = round.unfitExample!;
            this.log.info(
              { remaining_s: finiteSeconds(this.budget.remainingMs()), expected_s: this.budget.expectedMs(doc) / 1000, margin_s: o.budgetMargin / 1000, example: doc._id },
              'time budget: the next token does not fit in the time left; not claiming',
            );
          }
          if (this.running.size > 0 || this.queue.length > 0) {
            // nothing more to claim: what has finished is written now, not when the window ends
            if (this.completer && this.queue.length === 0) void this.completer.flush();
            await this.nextEvent();
            break;
          }
          if (round.outcome === 'unfit') return 'time budget: no token fits in the time left';
          // never leave while our own 202 claims hold tokens: wait out replication, settle them, claim again
          if (this.unconfirmed.length > 0) {
            const wait = Math.max(0, Math.min(...this.unconfirmed.map((c) => c.atMs)) + SETTLE_DELAY_MS - Date.now());
            this.log.info({ unconfirmed: this.unconfirmed.length, wait_ms: wait }, 'the pool looks empty, but claims of ours were not answered for sure (a 202, or no clear answer): settling them before leaving');
            await sleep(wait, this.stopController.signal);
            await this.settleDue();
            this.claimer.forget();
            break;
          }
          // tokens waiting for others: release those whose dependencies are done (a pilot may have died
          // between a completion and its release), and wait while others still run their dependencies
          const seq = o.endless ? undefined : await this.currentSeq();
          const settled = await this.deps.sweep();
          if (!settled && !o.endless) {
            // the sweep failed (logged; a view read timed out under load, CouchDB away): tokens may still wait
            // for dependencies that are done. Leaving now could strand them: look again, for --retry-for at most
            const outage = sweepOutage.fail();
            if (!outage.expired) {
              await sleep(outage.delayMs, this.stopController.signal);
              this.claimer.forget();
              break;
            }
            this.log.warn({ failing_s: Math.round(outage.failingMs / 1000) }, 'the sweep of waiting tokens kept failing (--retry-for): leaving; picas repair, or any other pilot, releases what waits');
          } else {
            sweepOutage.succeed();
          }
          if (settled && settled.released.length > 0) break;
          if (!o.endless && settled && settled.waiting > 0) {
            const level = waitLogged ? 'debug' : 'info';
            waitLogged = true;
            this.log[level]({ waiting: settled.waiting }, `pool empty; ${settled.waiting} token(s) wait for dependencies that still run: waiting for them`);
            const r = await waitForChanges(this.http, { since: seq, signal: this.stopController.signal, pollIntervalMs: o.pollInterval, timeoutMs: 60_000, log: this.log });
            if (r === 'changed') await sleep(250 + Math.random() * 750, this.stopController.signal);
            this.claimer.forget();
            break;
          }
          if (o.endless) {
            const r = await waitForChanges(this.http, { since, signal: this.stopController.signal, pollIntervalMs: o.pollInterval, timeoutMs: 60_000, log: this.log });
            this.log.debug({ wait: r }, 'waited for new tokens');
            // other pilots' writes wake every idle pilot too: gather a burst of changes before looking again
            if (r === 'changed') await sleep(250 + Math.random() * 750, this.stopController.signal);
            this.claimer.forget();
            break;
          }
          // before leaving, put back any token left split by a cluster (only-202 claims)
          if (!repairedBeforeExit && o.repairInterval > 0) {
            repairedBeforeExit = true;
            const report = await this.repairer.runOnce();
            if (report && report.repaired.some((r) => r.state === 'todo')) break;
          }
          return 'no tokens left';
        }
      }
    }
    return this.stopRequest?.reason ?? 'stopped';
  }

  /** Settles the 202 claims whose replication had time (settle-claim.ts); errors leave them for later. */
  private async settleDue(signal = this.stopController.signal): Promise<void> {
    if (this.unconfirmed.length === 0) return;
    const now = Date.now();
    const due = this.unconfirmed.filter((c) => now - c.atMs >= SETTLE_DELAY_MS);
    if (due.length === 0) return;
    this.unconfirmed = this.unconfirmed.filter((c) => now - c.atMs < SETTLE_DELAY_MS);
    for (const c of due) {
      if (signal.aborted) {
        this.unconfirmed.push(c);
        continue;
      }
      let result;
      try {
        result = await settleUnconfirmedClaim(this.http, c, { actor: this.ctx.workerId, ...this.quorum, signal });
      } catch (err) {
        result = { outcome: 'retry' as const, message: (err as Error).message };
      }
      const log = this.log.child({ token: c.id });
      if (result.outcome === 'retry') {
        this.settleCounts.retried++;
        // kept even when stopping (a stop can cut a settle short): settleBeforeExit looks at it once more
        if (c.tries + 1 < SETTLE_TRIES) this.unconfirmed.push({ ...c, atMs: Date.now(), tries: c.tries + 1 });
        else log.warn({ reason: result.message }, 'an unconfirmed claim could not be settled; left to the periodic repair');
        continue;
      }
      this.settleCounts[result.outcome]++;
      if (result.outcome !== 'settled') log.info({ settle: result.outcome }, result.message);
      else log.debug({ settle: result.outcome }, result.message);
    }
  }

  /**
   * Stopping with 202 claims still pending (a signal, --max-time): one look at each now, without waiting for
   * replication (the leaves are read from every replica). What stays uncertain is left to repair and leases.
   */
  private async settleBeforeExit(): Promise<void> {
    if (this.unconfirmed.length === 0) return;
    const signal = AbortSignal.timeout(30_000);
    // two looks: a withdrawal answered 202 (applied, not proven on every replica) is looked at once more
    for (let look = 0; look < 2 && this.unconfirmed.length > 0 && !signal.aborted; look++) {
      if (look > 0) await sleep(1000, signal).catch(() => undefined);
      for (const c of this.unconfirmed) c.atMs = 0;
      await this.settleDue(signal).catch(() => undefined);
    }
    if (this.unconfirmed.length > 0) this.log.warn({ unconfirmed: this.unconfirmed.map((c) => c.id) }, 'stopping with claims not answered for sure (a 202, or no clear answer) and not settled: picas repair or the lease will put them back');
  }

  /** The cluster's membership, read at most every 5 s (a 202 storm must not become a _membership storm). */
  private async readMembership(): Promise<Membership | undefined> {
    if (this.membership && Date.now() - this.membership.at < 5000) return this.membership.value;
    let value: Membership | undefined;
    try {
      value = await readMembership(this.http, { signal: this.stopController.signal });
    } catch {
      value = undefined;
    }
    this.membership = { at: Date.now(), value };
    return value;
  }

  private async currentSeq(): Promise<unknown> {
    try {
      return (await readReplicas(this.http, { signal: this.stopController.signal })).updateSeq;
    } catch {
      return undefined;
    }
  }

  /** Waits until a token finishes or stop() is called. */
  private nextEvent(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  private hold(doc: TokenDoc, reclaimed: boolean): Held {
    const claimId = doc.claim_id!;
    const log = this.log.child({ token: doc._id });
    const keeper = new LeaseKeeper(this.http, doc, { claimId, leaseMs: this.ctx.options.lease, log });
    keeper.start();
    log.info({ attempts: doc.attempts, scrub_count: doc.scrub_count, reclaimed }, reclaimed ? 'claimed (reclaimed an expired lease)' : 'claimed');
    return { doc, claimId, keeper, log, reclaimed };
  }

  private start(held: Held): void {
    const entry: { held: Held; controller: AbortController; done: Promise<void>; pid?: number } = { held, controller: new AbortController(), done: Promise.resolve() };
    this.running.set(held.doc._id, entry);
    this.executing++;
    let slotHeld = true;
    // the slot is free once the command has ended: the next token starts while this result is written
    const freeSlot = () => {
      if (!slotHeld) return;
      slotHeld = false;
      this.executing--;
      entry.pid = undefined;
      this.wake?.();
    };
    entry.done = this.process(held, entry.controller, freeSlot)
      .catch((err: unknown) => {
        this.counts.lost++;
        held.log.error({ err }, 'could not record the token; it stays locked until its lease expires, then another pilot runs it');
      })
      .finally(() => {
        freeSlot();
        this.running.delete(held.doc._id);
        this.wake?.();
      });
  }

  /** Runs one held token and records what happened. */
  private async process(held: Held, controller: AbortController, commandEnded: () => void): Promise<void> {
    const o = this.ctx.options;
    const { keeper, log } = held;
    if (keeper.lostInfo) {
      await keeper.stop();
      this.counts.lost++;
      return;
    }
    const onLost = () => controller.abort({ lost: keeper.lostInfo });
    keeper.lost.signal.addEventListener('abort', onLost, { once: true });
    if (this.stopRequest) controller.abort({ stop: this.stopRequest.kind, reason: this.stopRequest.reason });

    const base = this.makeRunDir(held.doc._id);
    const cwd = join(this.workRoot, base);
    const stdoutPath = join(this.workRoot, `${base}.out`);
    const stderrPath = join(this.workRoot, `${base}.err`);
    const command = commandFor(held.doc, o.command);
    let outcome: RunOutcome;
    if (command === undefined) {
      const now = Date.now() / 1000;
      outcome = { exitCode: 127, started: now, finished: now, reason: 'the token input is not a shell command (a string) and no --command was given' };
    } else {
      log.debug({ cwd }, 'running');
      outcome = await runCommand({
        command,
        cwd,
        stdoutPath,
        stderrPath,
        env: tokenEnv(this.ctx.env, held.doc),
        timeoutMs: o.tokenTimeout,
        killGraceMs: o.killGrace,
        signal: controller.signal,
        onSpawn: (pid) => {
          this.guard.add(pid);
          const entry = this.running.get(held.doc._id);
          if (entry) entry.pid = pid;
        },
      });
      if (outcome.pid !== undefined) this.guard.remove(outcome.pid);
    }
    // a command that exited by itself frees its slot now; one killed by a signal keeps it until its result
    // is recorded: under Slurm that signal is usually the job being cancelled, and the pilot's own SIGTERM
    // is an instant behind (record() waits for it), so no new token should be claimed meanwhile. A token
    // with dependents that succeeded keeps its slot until they are released: the slot goes to the dependent
    // this pilot takes (takeReleased), so a chain goes on here instead of waiting for another pilot's claim
    const handsOn = outcome.exitCode === 0 && !!held.doc.has_dependents;
    if (!outcome.signal && !controller.signal.aborted && !handsOn) commandEnded();
    if (outcome.leftovers) log.warn('the command left processes running in its group; they were stopped');
    await keeper.stop();
    keeper.lost.signal.removeEventListener('abort', onLost);
    try {
      await this.record(held, outcome, stdoutPath, stderrPath, controller.signal);
    } finally {
      if (!o.keepWorkdir) removeRunFiles(cwd, stdoutPath, stderrPath);
    }
  }

  /**
   * A new working directory for one run: the token id and a counter (a kept work root from an earlier
   * pilot with the same --worker-id may hold the same names: those are skipped).
   */
  private makeRunDir(tokenId: string): string {
    const safe = safeFileName(tokenId);
    for (;;) {
      const base = `${safe}-${++this.runSeq}`;
      try {
        mkdirSync(join(this.workRoot, base));
        return base;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  private async record(held: Held, outcome: RunOutcome, stdoutPath: string, stderrPath: string, stopSignal: AbortSignal): Promise<void> {
    const o = this.ctx.options;
    const { keeper, log } = held;
    const id = held.doc._id;
    const lost = keeper.lostInfo;
    if (lost) {
      this.counts.lost++;
      log.warn({ lost: lost.lost, exit_code: outcome.exitCode }, `token lost (${lost.message}); its result was not written`);
      return;
    }
    // Under Slurm, scancel and the time limit signal the whole job: the command may die of SIGTERM an
    // instant before our own handler runs. Such a death is a stop, not a failure.
    let stopped = outcome.stoppedBy === 'abort' && (stopSignal.reason as { stop?: string } | undefined)?.stop !== undefined;
    if (!stopped && outcome.signal && ['SIGTERM', 'SIGINT', 'SIGHUP'].includes(outcome.signal) && outcome.stoppedBy === undefined) {
      stopped = await this.stopsWithin(2000);
    }
    const runMs = Math.max(0, (outcome.finished - outcome.started) * 1000);
    const attachments = this.logs(id, stdoutPath, stderrPath);
    if (stopped) {
      const why = this.stopRequest?.reason ?? `the command was killed by ${outcome.signal}`;
      if (o.onSignal === 'fail' && this.stopRequest?.kind !== 'max-time') {
        const result: RunResult = { ...resultOf(outcome, attachments, this.ctx.hostname), reason: `stopped: ${why} (--on-signal fail)` };
        if (result.exitCode === 0) result.exitCode = 143;
        const written = await completeToken(this.http, keeper.current, result, { claimId: held.claimId, workerId: this.ctx.workerId, maxScrub: 0, retryForMs: o.retryFor });
        this.tally(written.written ? 'failed' : 'lost', log, written.written ? `stopped; marked error (${why})` : `stopped; not written: ${(written as { message: string }).message}`);
      } else {
        const written = await requeueToken(this.http, keeper.current, { claimId: held.claimId, workerId: this.ctx.workerId, event: 'requeued', reason: `pilot ${this.ctx.workerId} stopped: ${why}`, retryForMs: o.retryFor });
        this.tally(written.written ? 'requeued' : 'lost', log, written.written ? `stopped; back to todo (${why})` : `stopped; not written: ${(written as { message: string }).message}`);
      }
      return;
    }
    this.budget.record(runMs);
    let result = resultOf(outcome, attachments, this.ctx.hostname);
    const complete = () => {
      const options = {
        claimId: held.claimId,
        workerId: this.ctx.workerId,
        maxScrub: o.maxScrub,
        retryForMs: o.retryFor,
        onRetry: (err: unknown, attempt: number, delay: number) => log.warn({ err, attempt, delay_ms: delay }, 'saving the result: CouchDB unavailable, retrying'),
      };
      // a token with dependents is written at once: its release (and the next link of its chain) waits for it
      const batch = this.completer && !held.doc.has_dependents;
      return batch ? this.completer!.complete(keeper.current, result, options) : completeToken(this.http, keeper.current, result, options);
    };
    let written;
    try {
      written = await complete();
    } catch (err) {
      if (httpStatusOf(err) !== 413) throw err;
      // the server refused a document this large: keep the result with smaller logs
      log.warn({ max_log_bytes: FALLBACK_LOG_BYTES }, `CouchDB refused the logs as too large (413): storing them capped to ${FALLBACK_LOG_BYTES} bytes per stream`);
      result = resultOf(outcome, this.logs(id, stdoutPath, stderrPath, FALLBACK_LOG_BYTES), this.ctx.hostname);
      written = await complete();
    }
    if (!written.written) {
      this.tally('lost', log, `not written: ${written.message}`, { lost: written.lost, exit_code: result.exitCode });
      return;
    }
    const fields = { exit_code: result.exitCode, run_s: Math.round(runMs) / 1000, ...(result.reason ? { reason: result.reason } : {}) };
    const kind = written.requeued ? 'requeued' : result.exitCode === 0 ? 'done' : 'failed';
    if (kind === 'requeued') this.tally('requeued', log, `failed; back to todo for a retry (--max-scrub ${o.maxScrub})`, fields);
    else if (kind === 'done') this.tally('done', log, 'done', fields);
    else this.tally('failed', log, 'failed', fields);
    const settled = await this.deps.afterCompletion(written.doc, kind, log, kind === 'done' ? this.takeReleased() : undefined);
    if (settled) this.adoptTaken(settled);
  }

  /**
   * Which dependents released by a completion this pilot takes (locked by it in the release write): as many as
   * it has free slots for, counting the slot the completing token still holds (process(): a token with
   * dependents that succeeded keeps it until now), when it would claim now anyway (not stopping, under
   * --max-tokens, the token fits the time budget). A chain then runs on, on this pilot, without a release
   * write and a claim by some other pilot.
   */
  private takeReleased(): TakeReleased | undefined {
    const o = this.ctx.options;
    let room = Math.min(o.slots - (this.executing - 1) - this.queue.length, (o.maxTokens ?? Infinity) - this.counts.claimed);
    if (room <= 0 || this.stopping) return undefined;
    return (token) => {
      if (room <= 0 || this.stopping || !this.budget.fits(token)) return undefined;
      room--;
      return this.claimer.claimInfo();
    };
  }

  /** The dependents a completion took: queued like won claims; those not won for sure (a 202, no clear answer) are settled later. */
  private adoptTaken(settled: SettleReport): void {
    for (const doc of settled.taken) {
      this.counts.claimed++;
      this.counts.taken++;
      this.queue.push(this.hold(doc, false));
    }
    for (const c of settled.unconfirmed) this.unconfirmed.push({ ...c, atMs: Date.now(), tries: 0 });
    if (settled.taken.length > 0) this.wake?.();
  }

  private tally(kind: 'done' | 'failed' | 'requeued' | 'lost', log: Logger, message: string, fields: Record<string, unknown> = {}): void {
    this.counts[kind]++;
    if (kind === 'lost' || kind === 'failed') log.warn(fields, message);
    else log.info(fields, message);
  }

  private logs(id: string, stdoutPath: string, stderrPath: string, max = this.ctx.options.maxLogBytes) {
    const out = captureLog(stdoutPath, max);
    const err = captureLog(stderrPath, max);
    return {
      [`logs_${id}.out`]: textAttachment(out.data),
      [`logs_${id}.err`]: textAttachment(err.data),
    };
  }

  /** True if a stop is requested within `ms` (a signal that reached our command first reaches us soon). */
  private async stopsWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.stopping && Date.now() < deadline) await sleep(50);
    return this.stopping;
  }

  /** Prefetched tokens that never started go back to todo. */
  private async releaseQueued(): Promise<void> {
    const queued = this.queue.splice(0);
    for (const held of queued) {
      await held.keeper.stop();
      if (held.keeper.lostInfo) {
        this.counts.lost++;
        continue;
      }
      try {
        const r = await requeueToken(this.http, held.keeper.current, {
          claimId: held.claimId,
          workerId: this.ctx.workerId,
          event: 'requeued',
          reason: `pilot ${this.ctx.workerId} stopped before starting it: ${this.stopRequest?.reason ?? 'stopping'}`,
          retryForMs: this.ctx.options.retryFor,
        });
        this.tally(r.written ? 'requeued' : 'lost', held.log, r.written ? 'not started; back to todo' : `not started; not written: ${(r as { message: string }).message}`);
      } catch (err) {
        this.counts.lost++;
        held.log.error({ err }, 'could not put a prefetched token back; its lease will expire');
      }
    }
  }
}

/** Per-stream log cap used when CouchDB refuses the document with the configured cap (413). */
const FALLBACK_LOG_BYTES = 65_536;

function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { cause?: { statusCode?: unknown } })?.cause?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function resultOf(outcome: RunOutcome, attachments: RunResult['attachments'], hostname: string): RunResult {
  return { exitCode: outcome.exitCode, started: outcome.started, finished: outcome.finished, reason: outcome.reason, attachments, hostname };
}

/** What runs for a token: `--command` if given (the input goes in PICAS_TOKEN_INPUT), else the input. */
export function commandFor(doc: TokenDoc, command?: string): string | undefined {
  if (command) return command;
  return typeof doc.input === 'string' ? doc.input : undefined;
}

/**
 * The command's environment: the pilot's, plus PICAS_TOKEN_ID and PICAS_TOKEN_INPUT, minus the CouchDB
 * password (a command that prints its environment would otherwise store it in the token's logs).
 */
export function tokenEnv(base: Record<string, string | undefined>, doc: TokenDoc): Record<string, string | undefined> {
  const { PICAS_PASSWORD, ...rest } = base;
  void PICAS_PASSWORD;
  return {
    ...rest,
    PICAS_TOKEN_ID: doc._id,
    PICAS_TOKEN_INPUT: typeof doc.input === 'string' ? doc.input : JSON.stringify(doc.input ?? null),
    ...(Array.isArray(doc.depends_on) && doc.depends_on.length > 0 ? { PICAS_DEPENDS_ON: doc.depends_on.join(',') } : {}),
  };
}

/** PiCaS' job-id field plus the raw Slurm ids, recorded on claimed tokens. */
export function jobIdFields(env: Record<string, string | undefined>): { jobId?: { field: string; value: string }; extra?: Record<string, unknown> } {
  const jobId = jobIdFromEnv(env);
  if (!env.SLURM_JOB_ID) return { jobId };
  const extra: Record<string, unknown> = { slurm_job_id_raw: env.SLURM_JOB_ID };
  if (env.SLURM_ARRAY_JOB_ID) extra.slurm_array_job_id = env.SLURM_ARRAY_JOB_ID;
  if (env.SLURM_ARRAY_TASK_ID) extra.slurm_array_task_id = env.SLURM_ARRAY_TASK_ID;
  return { jobId, extra };
}

function finiteOrUndefined(n: number): number | undefined {
  return Number.isFinite(n) ? n : undefined;
}

function finiteSeconds(ms: number): number | null {
  return Number.isFinite(ms) ? Math.round(ms / 100) / 10 : null;
}

/**
 * Removes a finished token's working directory and log files. Most commands leave their directory empty:
 * one rmdir then, and the recursive walk only when something is left in it.
 */
function removeRunFiles(cwd: string, ...files: string[]): void {
  try {
    rmdirSync(cwd);
  } catch {
    rmSync(cwd, { recursive: true, force: true, maxRetries: 2 });
  }
  for (const file of files) {
    try {
      unlinkSync(file);
    } catch {
      // never written, or already gone
    }
  }
}
