/**
 * The controller: one cycle every interval (read the state and the pool, bring the pilots up to date,
 * decide, act, save the state with a renewed lease, report one line), until its signal aborts, or after
 * one cycle (`once`), or once nothing waits and none of its pilots is left (`untilEmpty`).
 */
import { sleep, type AutoscalerDoc, type Couch } from '@picas/core';
import type { AutoscaleBackend } from './autoscale-backend.js';
import { cycleLine, type CycleOutcome } from './cycle-line.js';
import { decide, type Decision, type DecisionSettings } from './decision.js';
import { afterPilotsEnded, afterSubmitFailure, afterSubmitSuccess, oneLine } from './failure-accounting.js';
import { livePilots, reconcilePilots } from './pilot-ledger.js';
import { readPool } from './pool-snapshot.js';
import { leaseSecondsFor, LeaseLostError, StateStore } from './state-store.js';

export interface ControllerSettings extends DecisionSettings {
  intervalS: number;
}

export interface CycleReport {
  line: string;
  decision: Decision;
  outcome: CycleOutcome;
  state: AutoscalerDoc;
}

export interface ControllerOptions {
  couch: Couch;
  backend: AutoscaleBackend;
  settings: ControllerSettings;
  store: StateStore;
  once?: boolean;
  untilEmpty?: boolean;
  dryRun?: boolean;
  signal: AbortSignal;
  onCycle: (report: CycleReport) => void;
  now?: () => number;
}

export interface ControllerEnd {
  /** 0: done (once, empty, stopped); 1: tokens left that no pilot can run; 6: paused with --until-empty */
  exitCode: number;
  why: 'once' | 'empty' | 'unschedulable-left' | 'paused' | 'stopped';
}

export async function runController(o: ControllerOptions): Promise<ControllerEnd> {
  const now = o.now ?? (() => Date.now() / 1000);
  const leaseS = leaseSecondsFor(o.settings.intervalS);
  let state = await o.store.acquire({ backend: o.backend.kind, settings: settingsRecord(o.settings), leaseS, nowS: now(), signal: o.signal });
  let surplusStreak = 0;
  let lost = false;
  try {
    for (;;) {
      if (o.signal.aborted) return { exitCode: 0, why: 'stopped' };
      const report = await runCycle(o, state, surplusStreak, leaseS, now);
      state = report.state;
      surplusStreak = report.decision.surplusStreak;
      o.onCycle(report);
      const d = report.decision;
      const nothingLeft = d.todo - d.unschedulable === 0 && d.demandS === 0 && d.running + d.pending === 0;
      if (o.untilEmpty && state.paused) return { exitCode: 6, why: 'paused' };
      if (o.untilEmpty && nothingLeft) return d.unschedulable > 0 ? { exitCode: 1, why: 'unschedulable-left' } : { exitCode: 0, why: 'empty' };
      if (o.once) return { exitCode: 0, why: 'once' };
      await sleep(o.settings.intervalS * 1000, o.signal);
    }
  } catch (err) {
    lost = err instanceof LeaseLostError;
    throw err;
  } finally {
    // the backend stops what it holds (local pilots put their tokens back); what became of the pilots is
    // written down with the lease given up, so the next controller need neither wait nor guess
    await o.backend.close();
    if (!lost) {
      const listed = await o.backend.list().catch(() => undefined);
      const pilots = listed ? reconcilePilots(state.pilots, listed, [], o.backend.kind, now()).pilots : state.pilots;
      await o.store.release({ ...state, pilots }, now());
    }
  }
}

async function runCycle(o: ControllerOptions, base: AutoscalerDoc, surplusStreak: number, leaseS: number, now: () => number): Promise<CycleReport> {
  const { backend, settings, signal } = o;
  const latest = (await o.store.read(signal)) ?? base;
  const nowS = now();
  if (latest.owner !== o.store.owner) throw new LeaseLostError(`another controller (${latest.owner}) took over pool ${o.couch.config.db}; this one stops`);
  // branches left by two controllers' writes that each reached only some replicas (state-store.ts)
  await o.store.dropConflicts(latest, signal);
  const listed = await backend.list(signal);
  const pool = await readPool(o.couch, nowS, signal);
  const reconciled = reconcilePilots(latest.pilots, listed, pool.records, backend.kind, nowS);
  const afterEnds = afterPilotsEnded(latest.failures, reconciled.ended, nowS);
  let failures = afterEnds.failures;
  let paused = latest.paused ?? afterEnds.paused;
  let capLoweredTo = latest.cap_lowered_to;
  const pilots = reconciled.pilots;

  const decision = decide({
    todo: pool.todo,
    running: pool.running,
    finishedRunSeconds: pool.finishedRunSeconds,
    pilots: livePilots(pilots, (p) => p.cpus ?? settings.largestShape.cpus),
    settings,
    capLoweredTo,
    surplusStreak,
    nowS,
  });

  const outcome: CycleOutcome = { submitted: 0, cancelled: 0, dryRun: o.dryRun };
  if (paused) {
    outcome.paused = paused;
  } else if (!o.dryRun) {
    if (decision.cancel.length > 0) {
      await backend.cancel(decision.cancel, signal);
      for (const p of pilots) if (decision.cancel.includes(p.job_id)) p.end_reason = 'cancelled by the controller (surplus)';
      outcome.cancelled = decision.cancel.length;
    }
    if (decision.submit > 0 && failures.next_submit_at !== undefined && failures.next_submit_at > nowS) {
      outcome.backoffUntilS = failures.next_submit_at;
    } else {
      for (let i = 0; i < decision.submit && !signal.aborted; i++) {
        try {
          const jobId = await backend.submit(decision.shape, signal);
          pilots.push({ backend: backend.kind, job_id: jobId, state: 'pending', cpus: decision.shape.cpus, ...(decision.shape.gpus ? { gpus: decision.shape.gpus } : {}), ...(decision.shape.mem ? { mem: decision.shape.mem } : {}), submitted: now() });
          failures = afterSubmitSuccess(failures);
          outcome.submitted++;
        } catch (err) {
          if (signal.aborted) break;
          const message = oneLine((err as Error).message);
          const alive = decision.running + decision.pending + outcome.submitted;
          const failed = afterSubmitFailure(failures, message, alive, nowS);
          failures = failed.failures;
          capLoweredTo = failed.capLoweredTo ?? capLoweredTo;
          paused = failed.paused;
          outcome.submitError = message;
          outcome.capLoweredTo = failed.capLoweredTo;
          outcome.backoffUntilS = failures.next_submit_at;
          if (paused) outcome.paused = paused;
          break;
        }
      }
    }
  }
  const line = cycleLine(decision, outcome);
  const record = { at: nowS, line, todo: decision.todo, demand_s: decision.demandS, supply_s: decision.supplyS, unschedulable: decision.unschedulable, submit: outcome.submitted, cancel: outcome.cancelled };
  const renewed = { lease_until: now() + leaseS, heartbeat: now(), last_decision: record };
  const next: AutoscalerDoc = withOptional({ ...latest, ...renewed, pilots, failures }, { paused, cap_lowered_to: capLoweredTo });
  // a pause or resume written meanwhile wins over this cycle's counters; the pilots are this controller's alone
  const saved = await o.store.save(next, (other) => withOptional({ ...other, ...renewed, pilots }, { paused: other.paused ?? (latest.paused ? undefined : paused), cap_lowered_to: capLoweredTo }), signal);
  return { line, decision, outcome, state: saved };
}

function withOptional(doc: AutoscalerDoc, fields: { paused?: AutoscalerDoc['paused']; cap_lowered_to?: number }): AutoscalerDoc {
  const { paused: _p, cap_lowered_to: _c, ...rest } = doc;
  return { ...rest, ...(fields.paused ? { paused: fields.paused } : {}), ...(fields.cap_lowered_to !== undefined ? { cap_lowered_to: fields.cap_lowered_to } : {}) };
}

function settingsRecord(s: ControllerSettings): Record<string, unknown> {
  return {
    max_pilots: s.maxPilots,
    min_pilots: s.minPilots,
    max_pending: s.maxPending,
    max_submit: s.maxSubmit,
    walltime_s: s.walltimeS,
    interval_s: s.intervalS,
    default_token_seconds: s.defaultTokenSeconds,
    largest_shape: s.largestShape,
  };
}
