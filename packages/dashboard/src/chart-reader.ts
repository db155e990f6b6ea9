/**
 * Reads the chart's rows from picas_dashboard/finished_by_minute: per minute (group_level 2), and for a run
 * whose finishes span less than FINE_SPAN_S once more per second (group_level 3, from its first minute), so
 * that chart-bins.ts can give a short run fine bins.
 */
import type { CouchHttp } from '@picas/core';
import { chartBins, FINE_SPAN_S, recentRatePerMinute, slotSpan, type ChartModel, type FinishedSlot } from './chart-bins.js';

const VIEW = '/_design/picas_dashboard/_view/finished_by_minute';

export async function readChart(http: CouchHttp, signal: AbortSignal, nowS = Date.now() / 1000): Promise<{ model: ChartModel; ratePerMinute?: number }> {
  const minutes = await readSlots(http, signal, 2);
  if (minutes.length === 0) return { model: chartBins([], nowS) };
  const { first, last } = slotSpan(minutes);
  const fine = last - first < FINE_SPAN_S ? await readSlots(http, signal, 3, first / 60) : undefined;
  return { model: chartBins(fine ?? minutes, nowS), ratePerMinute: recentRatePerMinute(minutes, nowS) };
}

async function readSlots(http: CouchHttp, signal: AbortSignal, groupLevel: 2 | 3, fromMinute?: number): Promise<FinishedSlot[]> {
  const res = await http.request<{ rows?: Array<{ key: [number, string, number?]; value: number }> }>({
    path: http.dbPath(VIEW),
    query: { group_level: groupLevel, ...(fromMinute !== undefined ? { startkey: [fromMinute] } : {}) },
    signal,
    timeoutMs: 120_000,
  });
  if (res.status >= 300) throw http.errorFor(res, 'reading the picas_dashboard/finished_by_minute view (run picas init)');
  const slots = new Map<number, FinishedSlot>();
  for (const row of res.body?.rows ?? []) {
    const [minute, state, second] = row.key;
    const t = minute * 60 + (groupLevel === 3 ? Number(second) || 0 : 0);
    const slot = slots.get(t) ?? { t, done: 0, error: 0 };
    if (state === 'done') slot.done += row.value;
    else slot.error += row.value;
    slots.set(t, slot);
  }
  return [...slots.values()];
}
