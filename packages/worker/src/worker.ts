/**
 * The pilot: claim tokens (claim-loop), run them (scheduler) while their leases are kept alive
 * (lease-keeper), record the results (result-writer), and go on until a stop condition:
 *  - the pool is empty and none of our tokens run (default), or forever with `--endless`;
 *  - `--max-tokens` claimed, `--max-time` passed, or the time budget leaves no room for the next token;
 *  - `stop()` (the first SIGTERM/SIGINT): stop claiming, stop the running commands, and put their tokens
 *    back to todo (`--on-signal requeue`) or mark them error (`--on-signal fail`).
 * Up to `--slots` tokens run at once (capacity). This class is the lifecycle: connect, start the
 * background passes, run the loop, drain, and sum up.
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { claimIdentity, describeConnection, FailureStreak, pilotIdentity, sleep, UnreachableError, type Couch, type Logger } from '@picas/core';
import { Claimer } from '@picas/core/ops/claim';
import { CompletionBatcher } from '@picas/core/ops/complete-batch';
import { claimQuorumIsUnsafe, claimWriteQuorum, readReplicas, type Replicas } from '@picas/core/ops/replicas';
import type { Capacity } from './capacity.js';
import { ClaimLoop } from './claim-loop.js';
import { ClusterHealth } from './cluster-health.js';
import { ConflictRepairer } from './conflict-repairer.js';
import { DependencyKeeper } from './dependency-keeper.js';
import type { WorkerOptions } from './options.js';
import { OrphanGuard } from './orphan-guard.js';
import { detectPilot, pilotCapacity, type PilotSetup } from './pilot-capacity.js';
import { PilotRecord, pilotEndState, type PilotOccupancy } from './pilot-record.js';
import { AUTO_PREFETCH_AHEAD_MS, prefetchCap } from './prefetch.js';
import { ResultWriter } from './result-writer.js';
import { RunFiles } from './run-files.js';
import { Scheduler } from './scheduler.js';
import { ShellWork } from './shell-work.js';
import { StopSwitch, type StopKind } from './stop-switch.js';
import { emptyTokenCounts, finiteSeconds, workerSummary, type WorkerSummary } from './summary.js';
import { TimeBudget } from './time-budget.js';
import type { TokenWork } from './token-work.js';
import { UnconfirmedClaims } from './unconfirmed-claims.js';
import { safeFileName } from './worker-id.js';

export interface WorkerContext {
  couch: Couch;
  options: WorkerOptions;
  log: Logger;
  workerId: string;
  hostname: string;
  /** the pilot's environment (Slurm variables; the base of each token's environment) */
  env: Record<string, string | undefined>;
  /** what running a token means (token-work.ts); default: its shell command (shell-work.ts) */
  work?: TokenWork;
  /** what the pilot has (pilot-capacity.ts): bin.ts detects it before opening `couch`, to size its pool; detected at start when not given */
  pilot?: PilotSetup;
}

/** The parts a connected pilot works with (made in `run()` once CouchDB answered). */
interface Parts {
  replicas: Replicas;
  /** the claims' write quorum (undefined on a single node) */
  w?: number;
  capacity: Capacity;
  claimer: Claimer;
  completer?: CompletionBatcher;
  unconfirmed: UnconfirmedClaims;
  scheduler: Scheduler;
  loop: ClaimLoop;
  repairer: ConflictRepairer;
  deps: DependencyKeeper;
}

export class Worker {
  private readonly log: Logger;
  private readonly started = Date.now();
  private readonly stopSwitch = new StopSwitch();
  private readonly counts = emptyTokenCounts();
  private readonly runFiles: RunFiles;
  private readonly guard: OrphanGuard;
  private parts?: Parts;
  /** this pilot's own document (pilot-record.ts), unless --no-pilot-record */
  private pilotRecord?: PilotRecord;

  constructor(private readonly ctx: WorkerContext) {
    this.log = ctx.log;
    this.runFiles = new RunFiles(join(tmpdir(), `picas-${safeFileName(ctx.workerId)}`));
    this.guard = new OrphanGuard(join(this.runFiles.root, 'running-groups'), ctx.options.killGrace);
  }

  get stopping(): boolean {
    return this.stopSwitch.stopping;
  }

  /** The first signal: stop claiming, stop running commands; their tokens are released by the scheduler. */
  stop(reason: string, kind: StopKind = 'signal'): void {
    if (this.stopSwitch.stopping) return;
    this.log.info({ reason }, `stopping: ${reason}`);
    this.stopSwitch.stop(reason, kind);
  }

  /** The second signal: SIGKILL every running command's process group at once (their leases will expire). */
  killAll(): number {
    const killed = this.parts?.scheduler.killAll() ?? 0;
    this.guard.killNow();
    return killed;
  }

  /**
   * The second signal: the pilot's record says `stopped` with `reason` (so that an exited pilot is not shown
   * running until it is lost). The caller bounds the wait, then calls killAll and exits at once: killing
   * first would let the stop path requeue the killed tokens while the record is written, and the second
   * signal means "leave now, the tokens stay locked until their lease expires".
   */
  async abandon(reason: string): Promise<void> {
    await this.pilotRecord?.finish('stopped', this.summary(reason));
  }

  async run(): Promise<WorkerSummary> {
    let replicas: Replicas;
    try {
      replicas = await this.connect();
    } catch (err) {
      // a signal during start-up is a normal stop, not a failure
      if (this.stopping) return this.summary(this.stopSwitch.request!.reason);
      throw err;
    }
    const parts = await this.assemble(replicas);
    this.parts = parts;
    this.runFiles.create();
    this.guard.start();
    parts.repairer.start();
    parts.deps.start();
    const o = this.ctx.options;
    this.log.info({ n: replicas.n, w: parts.w ?? null, slots: parts.capacity.slots, connections: this.ctx.couch.http.connections, lease_s: o.lease / 1000, endless: o.endless, budget_s: finiteSeconds(parts.capacity.remainingMs()) }, 'worker started');
    if (o.pilotRecord) {
      this.pilotRecord = new PilotRecord({ http: this.ctx.couch.http, workerId: this.ctx.workerId, hostname: this.ctx.hostname, env: this.ctx.env, slots: parts.capacity.slots, resources: parts.capacity.total, leaseMs: o.lease, log: this.log, counts: () => this.counts, occupancy: () => this.occupancy() });
      this.pilotRecord.start();
    }
    const maxTime = o.maxTime;
    const maxTimer = maxTime !== undefined ? setTimeout(() => this.stop(`--max-time ${maxTime / 1000}s reached`, 'max-time'), Math.max(0, maxTime - (Date.now() - this.started))) : undefined;
    let stopReason = 'no tokens left';
    let fatal: unknown;
    try {
      stopReason = await parts.loop.run();
    } catch (err) {
      fatal = err;
      this.stop(`fatal: ${(err as Error).message}`, 'fatal');
    } finally {
      if (maxTimer) clearTimeout(maxTimer);
    }
    await this.drain(parts);
    if (this.stopSwitch.request) stopReason = this.stopSwitch.request.reason;
    if (!o.keepTokenDirs) this.runFiles.removeAll();
    const summary = this.summary(stopReason);
    await this.pilotRecord?.finish(pilotEndState(this.stopSwitch.request?.kind, fatal), summary);
    if (fatal) throw fatal;
    return summary;
  }

  /** Its tokens running now (started, not yet recorded, and their shapes) and claimed ahead (held, waiting for a slot). */
  private occupancy(): PilotOccupancy {
    const scheduler = this.parts?.scheduler;
    return { running: scheduler?.runningCount ?? 0, claimedAhead: scheduler?.queued ?? 0, runningShapes: scheduler?.runningShapes() ?? {} };
  }

  /** The pilot's parts, wired for this database: claims sized and fenced for its replicas. */
  private async assemble(replicas: Replicas): Promise<Parts> {
    const { couch, options: o, workerId, hostname, env } = this.ctx;
    const http = couch.http;
    const log = this.log;
    const stop = this.stopSwitch;
    const w = claimWriteQuorum(replicas, o.claimQuorum);
    const quorum = { w, r: replicas.clustered ? replicas.n : undefined };
    const unsafe = claimQuorumIsUnsafe(replicas, o.claimQuorum);
    if (unsafe) log.warn({ n: replicas.n, w }, `--claim-quorum ${String(o.claimQuorum)} is below the ${replicas.n} replicas: two pilots may run the same token`);
    // a bulk answer proves each win (single node, or a lowered --claim-quorum)
    const bulkAllowed = replicas.n === 1 || unsafe;
    if (o.prefetch !== 'auto' && o.prefetch > 1 && !bulkAllowed) {
      log.warn({ n: replicas.n }, `--prefetch ${o.prefetch} ignored: on a cluster a _bulk_docs answer cannot show that every replica took a claim`);
    }
    const budget = await TimeBudget.detect({ timeBudgetMs: o.timeBudget, marginMs: o.budgetMargin, runtimeFactor: o.runtimeFactor, startedMs: this.started }, env, log);
    const capacity = pilotCapacity(this.ctx.pilot ?? detectPilot(o, env, log), o, budget);
    const claimer = new Claimer({ http, workerId, hostname, leaseMs: o.lease, window: o.window, reclaimExpired: o.reclaimExpired, w, bulkAllowed, ...claimIdentity(pilotIdentity(env)) });
    const cap = prefetchCap(o.prefetch, capacity.slots, bulkAllowed);
    // Results of prefetched tokens wait for company: they go out when the pilot turns to claim more (or has
    // nothing left to run), when a claim's worth has gathered, or after the prefetch horizon at the latest.
    // So a claim of N short tokens costs about one completion write, not one per 200 ms.
    const completer = cap > 1 ? new CompletionBatcher(http, { maxBatch: Math.max(cap, capacity.slots), windowMs: AUTO_PREFETCH_AHEAD_MS }) : undefined;
    const repairer = new ConflictRepairer(http, { intervalMs: o.repairInterval, actor: workerId, log, ...quorum });
    /** releases and blocks the dependents of completed tokens, and sweeps waiting tokens (docs/dag.md) */
    const deps = new DependencyKeeper(http, { w, actor: workerId, log, intervalMs: o.repairInterval, env });
    const unconfirmed = new UnconfirmedClaims({ http, actor: workerId, log, ...quorum });
    const writer = new ResultWriter({ http, options: o, workerId, hostname, counts: this.counts, stop, capacity, completer });
    const work = this.ctx.work ?? new ShellWork({ command: o.command, isolate: o.isolate, workdir: resolve(o.workdir ?? process.cwd()), env, pin: capacity.pin, tokenTimeout: o.tokenTimeout, killGrace: o.killGrace });
    const scheduler = new Scheduler({ http, options: o, log, counts: this.counts, capacity, claimer, writer, deps, unconfirmed, guard: this.guard, runFiles: this.runFiles, work, stop });
    const health = new ClusterHealth({ http, replicas: replicas.n, log, signal: stop.signal });
    const loop = new ClaimLoop({ http, options: o, log, counts: this.counts, claimer, capacity, scheduler, writer, unconfirmed, health, deps, repairer, stop, bulkAllowed });
    return { replicas, w, capacity, claimer, completer, unconfirmed, scheduler, loop, repairer, deps };
  }

  /** After the loop: every started token recorded, queued ones put back, our unconfirmed claims settled, the background passes stopped. */
  private async drain(parts: Parts): Promise<void> {
    await parts.scheduler.drain();
    await parts.scheduler.releaseQueued();
    await parts.unconfirmed.settleBeforeExit();
    await parts.repairer.stop();
    await parts.deps.stop();
    await this.guard.stop();
  }

  private summary(stopReason: string): WorkerSummary {
    const p = this.parts;
    return workerSummary({
      worker: this.ctx.workerId,
      counts: this.counts,
      startedMs: this.started,
      httpRequests: this.ctx.couch.http.requests,
      stopReason,
      claimer: p?.claimer,
      completer: p?.completer,
      unconfirmed: p?.unconfirmed.summary(p.replicas.clustered),
    });
  }

  /**
   * GET /db with retries (a pilot may start while CouchDB restarts); auth errors are fatal at once. A pilot
   * that has never reached CouchDB retries for `connectFor` (short, unless --retry-for is set), and says at
   * each retry where it tries and how long is left.
   */
  private async connect(): Promise<Replicas> {
    const limitMs = this.ctx.options.connectFor;
    const outage = new FailureStreak({ baseMs: 500, maxMs: 15_000, limitMs, startedAt: Date.now() });
    const where = describeConnection(this.ctx.couch.config);
    for (;;) {
      try {
        return await readReplicas(this.ctx.couch.http, { signal: this.stopSwitch.signal });
      } catch (err) {
        const f = outage.fail();
        if (!(err instanceof UnreachableError) || this.stopping) throw err;
        if (f.expired) throw new UnreachableError(`${err.message}; gave up after ${Math.round(f.failingMs / 1000)}s (never connected; --retry-for sets how long to try)`, { cause: err });
        const left = Math.max(0, Math.round((limitMs - f.failingMs) / 1000));
        this.log.warn({ err, couchdb: where, attempt: f.failures, delay_ms: f.delayMs, left_s: left }, `CouchDB unavailable, retrying in ${Math.round(f.delayMs / 100) / 10}s (giving up in ${left}s): ${where}`);
        await sleep(f.delayMs, this.stopSwitch.signal);
      }
    }
  }
}
