/**
 * The autoscaler's state: one document per pool (`_id: "picas-autoscaler"`, `type: "autoscaler"`), written
 * by the `picas autoscale` controller that holds its lease, read by `picas autoscale status` and the
 * dashboard. PiCaS' views and ours only look at `type: "token"`, so this document is invisible to them.
 *
 * Nothing here does I/O: the controller (packages/autoscale) writes it, readers parse it with
 * isAutoscalerDoc.
 */

export const AUTOSCALER_TYPE = 'autoscaler';
export const AUTOSCALER_DOC_ID = 'picas-autoscaler';

/** What became of a pilot job (the same words as launch's PilotJobState). */
export type AutoscalerPilotState = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'timeout' | 'preempted' | 'node_failure' | 'unknown';

/** One pilot the controller submitted. */
export interface AutoscalerPilot {
  backend: string;
  job_id: string;
  state: AutoscalerPilotState;
  /** the shape it was submitted with */
  cpus?: number;
  gpus?: number;
  /** bytes */
  mem?: number;
  /** epoch seconds */
  submitted: number;
  started?: number;
  ended?: number;
  /** from its pilot record (pilot:<worker id>), when the pilot wrote one */
  tokens_run?: number;
  /** why it ended: completed, timeout, preempted, node_failure, cancelled (by the controller: surplus), failed-start, ... */
  end_reason?: string;
  /** a local pilot's process id (how its pilot record is found) */
  pid?: number;
  /** cycles in a row its backend has not listed it (it is declared gone after two) */
  missing_cycles?: number;
  /** its end has been through the failure accounting (once its pilot record said it ended too) */
  counted?: boolean;
}

/** The last cycle's decision, as printed. */
export interface AutoscalerDecisionRecord {
  /** epoch seconds */
  at: number;
  /** the cycle's one line, e.g. `todo 840 (23.3 h of work) · unschedulable 2 · pilots 8 running, 2 pending of 10 · submit 2` */
  line: string;
  todo: number;
  /** seconds of work that can run */
  demand_s: number;
  /** seconds of work the pilots that run or wait can still give */
  supply_s: number;
  unschedulable: number;
  submit: number;
  cancel: number;
}

export interface AutoscalerDoc {
  _id: typeof AUTOSCALER_DOC_ID;
  _rev?: string;
  type: typeof AUTOSCALER_TYPE;
  /** who holds the lease: `<hostname>:<pid>:<random>` */
  owner: string;
  /** epoch seconds; another controller may take over once it has passed */
  lease_until: number;
  /** epoch seconds of the last cycle */
  heartbeat: number;
  backend: string;
  /** the settings it runs with (max_pilots, min_pilots, max_pending, max_submit, walltime_s, interval_s, ...) */
  settings: Record<string, unknown>;
  pilots: AutoscalerPilot[];
  failures: {
    /** failed submissions in a row */
    submit_in_row: number;
    /** pilots that ended within a minute without running a token, in a row */
    failed_starts_in_row: number;
    /** epoch seconds before which no submission is tried (backoff) */
    next_submit_at?: number;
    last_error?: string;
  };
  /** a cap lowered by a scheduler limit ("job limit reached"), below settings.max_pilots */
  cap_lowered_to?: number;
  /** set while paused: why, and how to resume */
  paused?: { reason: string; at: number; resume: string };
  last_decision?: AutoscalerDecisionRecord;
}

export function isAutoscalerDoc(doc: unknown): doc is AutoscalerDoc {
  return !!doc && typeof doc === 'object' && (doc as AutoscalerDoc).type === AUTOSCALER_TYPE && (doc as AutoscalerDoc)._id === AUTOSCALER_DOC_ID;
}
