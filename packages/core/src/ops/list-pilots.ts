/**
 * The pilot records (`pilot:*` documents), read with one `_all_docs` range (no view to build), with the
 * state a reader shows: a running pilot that missed its renewals is `lost` (pilotLostAt in pilot.ts).
 */
import type { Couch } from '../couch/connection.js';
import type { CouchHttp } from '../couch/http.js';
import { isPilotDoc, pilotState, PILOT_ID_PREFIX, type PilotDoc, type PilotState } from '../pilot.js';

export interface PilotRow extends PilotDoc {
  /** the state to show (derived: `lost` when a running pilot missed its renewals) */
  shown: PilotState;
}

export async function listPilots(couch: Couch | { http: CouchHttp }, options: { signal?: AbortSignal; states?: readonly PilotState[]; nowMs?: number } = {}): Promise<PilotRow[]> {
  const { http } = couch;
  const body = await http.expectOk<{ rows: Array<{ doc?: unknown }> }>(
    {
      path: http.dbPath('/_all_docs'),
      query: { startkey: PILOT_ID_PREFIX, endkey: `${PILOT_ID_PREFIX}\ufff0`, include_docs: true },
      signal: options.signal,
    },
    'reading the pilot records',
  );
  const now = options.nowMs ?? Date.now();
  const rows: PilotRow[] = [];
  for (const row of body.rows ?? []) {
    if (!isPilotDoc(row.doc)) continue;
    const shown = pilotState(row.doc, now);
    if (options.states && options.states.length > 0 && !options.states.includes(shown)) continue;
    rows.push({ ...row.doc, shown });
  }
  // running and lost first, then the most recently started
  const order = (s: PilotState) => (s === 'running' ? 0 : s === 'lost' ? 1 : 2);
  rows.sort((a, b) => order(a.shown) - order(b.shown) || b.started - a.started || a._id.localeCompare(b._id));
  return rows;
}
