/**
 * The autoscaler panel's data: the controller's state document (`picas-autoscaler`, core's autoscaler-doc.ts)
 * read once per change, summed up for the page: its pilots running and pending, the last decision line and
 * its time, and why it is paused. Null when no controller ever ran on this pool.
 */
import { AUTOSCALER_DOC_ID, isAutoscalerDoc, type AutoscalerDoc, type CouchHttp } from '@picas/core';

export interface AutoscalerPanel {
  backend: string;
  running: number;
  pending: number;
  /** pilots it submitted that ended */
  ended: number;
  /** the max pilots it runs with (the lowered cap when a scheduler limit lowered it) */
  maxPilots: number | null;
  /** epoch seconds of its last cycle, and until when its lease runs */
  heartbeat: number;
  leaseUntil: number;
  decision: { line: string; at: number } | null;
  paused: { reason: string; at: number; resume: string } | null;
  lastError: string | null;
}

export async function readAutoscalerPanel(http: CouchHttp, signal: AbortSignal): Promise<AutoscalerPanel | null> {
  const res = await http.request<unknown>({ path: http.docPath(AUTOSCALER_DOC_ID), signal });
  if (res.status === 404) return null;
  if (res.status !== 200) throw http.errorFor(res, `reading ${AUTOSCALER_DOC_ID}`);
  return isAutoscalerDoc(res.body) ? autoscalerPanel(res.body) : null;
}

export function autoscalerPanel(doc: AutoscalerDoc): AutoscalerPanel {
  const pilots = Array.isArray(doc.pilots) ? doc.pilots : [];
  const max = doc.cap_lowered_to ?? doc.settings?.max_pilots;
  return {
    backend: String(doc.backend ?? ''),
    running: pilots.filter((p) => p.state === 'running').length,
    pending: pilots.filter((p) => p.state === 'pending').length,
    ended: pilots.filter((p) => p.state !== 'running' && p.state !== 'pending').length,
    maxPilots: typeof max === 'number' ? max : null,
    heartbeat: Number(doc.heartbeat) || 0,
    leaseUntil: Number(doc.lease_until) || 0,
    decision: doc.last_decision ? { line: String(doc.last_decision.line), at: Number(doc.last_decision.at) || 0 } : null,
    paused: doc.paused ? { reason: String(doc.paused.reason), at: Number(doc.paused.at) || 0, resume: String(doc.paused.resume ?? '') } : null,
    lastError: doc.failures?.last_error ?? null,
  };
}
