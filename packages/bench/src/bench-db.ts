/** The bench's databases: made fresh (with the design documents when asked), and their tokens counted per state. */
import { DESIGN_DOCS } from '@picas/core';
import type { Http } from './bench-http.js';

export async function createDb(http: Http, name: string, withViews: boolean) {
  await http.call('DELETE', `/${name}`);
  const r = await http.call('PUT', `/${name}`);
  if (r.status >= 300) throw new Error(`cannot create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  if (withViews) for (const d of DESIGN_DOCS) await http.call('PUT', `/${name}/${d._id}`, d);
}

/** A fresh pool database with its views built, before any clock starts (as `picas init` leaves it). */
export async function createPoolDb(http: Http, name: string) {
  await createDb(http, name, true);
  await http.call('GET', `/${name}/_design/picas_claim/_view/todo_by_priority?limit=1`);
  await http.call('GET', `/${name}/_design/Monitor/_view/overview_total?group=true`);
}

/** Tokens per state, from PiCaS' overview_total view. */
export async function stateCounts(http: Http, db: string): Promise<Record<string, number>> {
  const overview = await http.call('GET', `/${db}/_design/Monitor/_view/overview_total?group=true`);
  const counts: Record<string, number> = {};
  for (const row of overview.body.rows ?? []) counts[row.key] = row.value;
  return counts;
}
