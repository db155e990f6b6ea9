/**
 * `picas status --by q`: how many tokens are in each state, per value of one sweep parameter. Tokens are read a
 * page at a time (as `picas list` does); only the counts are kept, one entry per value.
 */
import type { Couch } from '../couch/connection.js';
import type { AnyTokenState } from '../token.js';
import { listTokens } from './list-tokens.js';

export interface ParamStateCount {
  /** the parameter's value; null for tokens without that parameter */
  value: string | null;
  counts: Partial<Record<AnyTokenState, number>>;
  total: number;
}

export async function paramStateCounts(couch: Couch, param: string, options: { signal?: AbortSignal } = {}): Promise<ParamStateCount[]> {
  const byValue = new Map<string | null, ParamStateCount>();
  for await (const { state, doc } of listTokens(couch, { signal: options.signal })) {
    const raw = doc.params && typeof doc.params === 'object' ? (doc.params as Record<string, unknown>)[param] : undefined;
    const value = raw === undefined || raw === null ? null : String(raw);
    let entry = byValue.get(value);
    if (!entry) byValue.set(value, (entry = { value, counts: {}, total: 0 }));
    entry.counts[state] = (entry.counts[state] ?? 0) + 1;
    entry.total++;
  }
  // values in numeric order when they are numbers, else as text; tokens without the parameter last
  return [...byValue.values()].sort((a, b) => compareValues(a.value, b.value));
}

function compareValues(a: string | null, b: string | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  const [x, y] = [Number(a), Number(b)];
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}
