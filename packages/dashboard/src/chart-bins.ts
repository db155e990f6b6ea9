/**
 * The chart's model: tokens finished (done, error) binned over the run's own span, so that a 5-minute run
 * fills the chart with 5-second bins (a run of seconds with 1-second bins) and a week-long one with 3-hour
 * bins, and the cumulative count of finished tokens beside the rate. Pure: the board reads the rows (finished_by_minute), this bins them.
 *
 * The bars are rates (tokens per minute, whatever the bin width, so the axis keeps its meaning when the
 * bins change); the line is the running total at each bin's end.
 */

/** Finished tokens in one slot of the view: a second (short runs) or a minute. */
export interface FinishedSlot {
  /** epoch seconds at the slot's start */
  t: number;
  done: number;
  error: number;
}

export interface ChartModel {
  /** the bins' width in seconds */
  binSeconds: number;
  /** epoch seconds at each bin's start */
  times: number[];
  /** tokens per minute in each bin */
  done: number[];
  error: number[];
  /** finished tokens (done + error) up to each bin's end */
  cumulative: number[];
  /** tokens finished in each bin (done + error) */
  finished: number[];
}

/** Bin widths to choose from, seconds: the smallest that gives at most TARGET_BINS over the span. */
export const BIN_WIDTHS_S: readonly number[] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];
export const TARGET_BINS = 60;
/** Runs whose finishes span less than this are read per second (finished_by_minute at group_level 3). */
export const FINE_SPAN_S = 3600;

/** The bin width for a span of `spanS` seconds. */
export function binWidthFor(spanS: number): number {
  const fit = BIN_WIDTHS_S.find((w) => spanS / w <= TARGET_BINS);
  return fit ?? 86_400 * Math.ceil(spanS / 86_400 / TARGET_BINS);
}

/**
 * Where the chart ends: at the last finish, or later while the run goes on (up to now, but at most a fifth
 * of the run, and at least 10 s, past its last finish: a finished run keeps its own scale).
 */
export function chartEnd(lastS: number, firstS: number, nowS: number): number {
  const after = Math.max(10, (lastS - firstS) / 5);
  return Math.max(lastS + 1, Math.min(nowS, lastS + after));
}

/** Bins the slots (any order, any slot width that divides the bin width) over the run's span. */
export function chartBins(slots: readonly FinishedSlot[], nowS: number): ChartModel {
  const empty: ChartModel = { binSeconds: BIN_WIDTHS_S[0]!, times: [], done: [], error: [], cumulative: [], finished: [] };
  const used = slots.filter((s) => s.done + s.error > 0);
  if (used.length === 0) return empty;
  const { first: firstS, last: lastS } = slotSpan(used);
  const end = chartEnd(lastS, firstS, nowS);
  const width = binWidthFor(end - firstS);
  const start = Math.floor(firstS / width) * width;
  const count = Math.max(1, Math.ceil((end - start) / width));
  const doneN = new Array<number>(count).fill(0);
  const errorN = new Array<number>(count).fill(0);
  for (const s of used) {
    const i = Math.min(count - 1, Math.floor((s.t - start) / width));
    doneN[i]! += s.done;
    errorN[i]! += s.error;
  }
  const model: ChartModel = { binSeconds: width, times: [], done: [], error: [], cumulative: [], finished: [] };
  const perMinute = 60 / width;
  let total = 0;
  for (let i = 0; i < count; i++) {
    total += doneN[i]! + errorN[i]!;
    model.times.push(start + i * width);
    model.done.push(round(doneN[i]! * perMinute));
    model.error.push(round(errorN[i]! * perMinute));
    model.finished.push(doneN[i]! + errorN[i]!);
    model.cumulative.push(total);
  }
  return model;
}

/**
 * The recent rate from minute slots: tokens per minute over the last five whole minutes before `nowS`'s
 * minute (the ETA's rate until the counts have a history of their own); undefined without such minutes.
 */
export function recentRatePerMinute(minutes: readonly FinishedSlot[], nowS: number): number | undefined {
  if (minutes.length === 0) return undefined;
  const span = slotSpan(minutes);
  const lastMinute = Math.floor(span.last / 60);
  const upTo = Math.min(Math.floor(nowS / 60), lastMinute + 1);
  const firstMinute = Math.floor(span.first / 60);
  const from = Math.max(firstMinute, upTo - 5);
  if (upTo <= from) return undefined;
  let sum = 0;
  for (const m of minutes) {
    const minute = Math.floor(m.t / 60);
    if (minute >= from && minute < upTo) sum += m.done + m.error;
  }
  return sum / (upTo - from);
}

/** The first and last slot's start (a loop: a long run has too many slots to spread into Math.min). */
export function slotSpan(slots: readonly FinishedSlot[]): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const s of slots) {
    if (s.t < first) first = s.t;
    if (s.t > last) last = s.t;
  }
  return { first, last };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
