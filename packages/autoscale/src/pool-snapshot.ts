/**
 * What the controller reads of the pool each cycle: the todo tokens (their `expected_seconds` and
 * resources), the running ones (since when), a sample of finished run times, and the pilot records.
 * Tokens waiting on dependencies are not in PiCaS' todo view (their lock is -1), so they are no demand.
 */
import { tokenNeeds, type Couch, type TokenDoc } from '@picas/core';
import { listTokens } from '@picas/core/ops/list-tokens';
import { listPilots, type PilotRow } from '@picas/core/ops/list-pilots';
import type { RunningToken, WaitingToken } from './decision.js';

/** At most this many todo (and locked) tokens are read per cycle; more is counted, not read. */
export const READ_AT_MOST = 20_000;
/** Finished tokens whose run times make the estimate for tokens without expected_seconds. */
export const FINISHED_SAMPLE = 500;

export interface PoolSnapshot {
  todo: WaitingToken[];
  running: RunningToken[];
  finishedRunSeconds: number[];
  records: PilotRow[];
}

export async function readPool(couch: Couch, nowS: number, signal?: AbortSignal): Promise<PoolSnapshot> {
  const todo: WaitingToken[] = [];
  for await (const { doc } of listTokens(couch, { state: 'todo', limit: READ_AT_MOST, signal })) todo.push({ needs: tokenNeeds(doc), ...expected(doc) });
  const running: RunningToken[] = [];
  for await (const { doc } of listTokens(couch, { state: 'locked', limit: READ_AT_MOST, signal })) {
    const started = Number(doc.started ?? doc.lock) || nowS;
    running.push({ needs: tokenNeeds(doc), ...expected(doc), elapsedS: Math.max(0, nowS - started) });
  }
  const finishedRunSeconds: number[] = [];
  for await (const { doc } of listTokens(couch, { state: 'done', limit: FINISHED_SAMPLE, signal })) {
    const s = Number(doc.run_seconds);
    if (Number.isFinite(s) && s >= 0) finishedRunSeconds.push(s);
  }
  const records = await listPilots(couch, { signal });
  return { todo, running, finishedRunSeconds, records };
}

function expected(doc: TokenDoc): { expectedS?: number } {
  const s = Number(doc.expected_seconds);
  return doc.expected_seconds !== undefined && Number.isFinite(s) && s > 0 ? { expectedS: s } : {};
}
