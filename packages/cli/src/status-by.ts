/** `picas status --by q`: token counts per state, one row per value of a sweep parameter. */
import { ALL_TOKEN_STATES, type Couch } from '@picas/core';
import { printJson, say } from './context.js';
import { formatTable } from './table.js';

export async function printStatusBy(couch: Couch, param: string, json: boolean): Promise<void> {
  const { paramStateCounts } = await import('@picas/core/ops/param-state-counts');
  const entries = await paramStateCounts(couch, param);
  if (json) {
    printJson({ database: couch.config.db, by: param, values: entries.map((e) => ({ value: e.value, ...Object.fromEntries(ALL_TOKEN_STATES.map((s) => [s, e.counts[s] ?? 0])), total: e.total })) });
    return;
  }
  // waiting and blocked only when some token is in them, as in picas status
  const states = ALL_TOKEN_STATES.filter((s) => s !== 'waiting' && s !== 'blocked' || entries.some((e) => (e.counts[s] ?? 0) > 0));
  const rows = entries.map((e) => [e.value ?? `(no ${param})`, ...states.map((s) => String(e.counts[s] ?? 0)), String(e.total)]);
  const columns = states.length + 1;
  say(formatTable([[param, ...states, 'total'], ...rows], { alignRight: Array.from({ length: columns }, (_, i) => i + 1) }));
}
