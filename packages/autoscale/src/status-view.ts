/**
 * `picas autoscale status`: the state document as lines of text, the pilots as table rows (the CLI pads
 * them into columns).
 */
import type { AutoscalerDoc } from '@picas/core';

export interface StatusView {
  lines: string[];
  /** header first */
  pilotRows: string[][];
}

export function statusView(doc: AutoscalerDoc, nowS: number): StatusView {
  const live = nowS < doc.lease_until;
  const lines = [
    `controller: ${doc.owner} (${doc.backend}), ${live ? `lease for ${Math.ceil(doc.lease_until - nowS)} s more` : `not running (last cycle ${ago(nowS - doc.heartbeat)})`}`,
    `settings: ${Object.entries(doc.settings).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`,
  ];
  if (doc.paused) lines.push(`paused: ${doc.paused.reason} (since ${time(doc.paused.at)}); resume with: ${doc.paused.resume}`);
  if (doc.cap_lowered_to !== undefined) lines.push(`cap lowered to ${doc.cap_lowered_to} by a scheduler limit`);
  const f = doc.failures;
  lines.push(`failures: ${f.submit_in_row} submissions and ${f.failed_starts_in_row} starts in a row${f.next_submit_at && f.next_submit_at > nowS ? `; next submission after ${time(f.next_submit_at)}` : ''}${f.last_error ? `; last: ${f.last_error}` : ''}`);
  if (doc.last_decision) lines.push(`last cycle (${time(doc.last_decision.at)}): ${doc.last_decision.line}`);
  const header = ['JOBID', 'BACKEND', 'STATE', 'SHAPE', 'SUBMITTED', 'STARTED', 'ENDED', 'TOKENS', 'WHY IT ENDED'];
  const rows = doc.pilots.map((p) => [
    p.job_id,
    p.backend,
    p.state,
    `${p.cpus ?? 1}c${p.gpus ? ` ${p.gpus}g` : ''}${p.mem ? ` ${Math.round(p.mem / 1024 ** 2)}M` : ''}`,
    time(p.submitted),
    p.started ? time(p.started) : '-',
    p.ended ? time(p.ended) : '-',
    String(p.tokens_run ?? 0),
    p.end_reason ?? '',
  ]);
  return { lines, pilotRows: [header, ...rows] };
}

function time(epochS: number): string {
  return new Date(epochS * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

function ago(seconds: number): string {
  return seconds < 120 ? `${Math.round(seconds)} s ago` : seconds < 7200 ? `${Math.round(seconds / 60)} min ago` : `${Math.round(seconds / 3600)} h ago`;
}
