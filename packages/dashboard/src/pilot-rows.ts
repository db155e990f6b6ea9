/** The pilots table's rows, from the pilot records (core's list-pilots.ts): what the page shows of each pilot. */
import { pilotJobIds } from '@picas/core';
import type { PilotRow } from '@picas/core/ops/list-pilots';

export interface PilotTableRow {
  id: string;
  pilot: string;
  state: string;
  shown: string;
  host: string;
  jobs: string;
  slots: number;
  counts: PilotRow['counts'];
  /** what the pilot has (cpus, gpus, mem in bytes); null in records of older pilots */
  resources: { cpus: number; gpus: number; mem: number } | null;
  /** its running tokens per shape, e.g. `{"4 cpu": 1, "1 cpu": 2}` (empty once it ended) */
  runningShapes: Record<string, number>;
  started: number;
  heartbeat: number;
  leaseUntil: number;
  ended: number | null;
  stopReason: string | null;
}

export function pilotTableRow(p: PilotRow): PilotTableRow {
  const live = p.shown === 'running';
  return {
    id: p._id,
    pilot: p.pilot_id,
    state: p.state,
    shown: p.shown,
    host: p.hostname,
    jobs: pilotJobIds(p),
    slots: p.slots,
    counts: p.counts,
    resources: p.resources ?? null,
    // a lost pilot's last shapes say nothing about now
    runningShapes: live ? (p.running_shapes ?? {}) : {},
    started: p.started,
    heartbeat: p.heartbeat,
    leaseUntil: p.lease_until,
    ended: p.ended ?? null,
    stopReason: p.stop_reason ?? null,
  };
}
