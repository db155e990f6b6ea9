/**
 * How many tokens one claim request asks for (pure: no I/O).
 *
 * `--prefetch auto` (the default) adapts to the tokens: it starts at one, and once this pilot has seen how
 * long its tokens run, it claims enough to keep its slots busy for about two seconds, up to
 * `max(16, 2 x slots)`. Very short tokens are then claimed (and their results written) many per request,
 * while tokens of a second or more are still claimed one at a time, so a pilot never sits on work other
 * pilots could run. A number fixes the depth. Either way it is one per request unless a bulk answer can
 * prove each win (a single node, or a lowered `--claim-quorum`): on a cluster every claim is its own PUT.
 */

export type PrefetchSetting = 'auto' | number;

/** work an automatic prefetch keeps claimed ahead per slot (ms) */
export const AUTO_PREFETCH_AHEAD_MS = 2000;

export function autoPrefetchCap(slots: number): number {
  return Math.max(16, 2 * slots);
}

/** The most tokens a claim may ask for: what batched completions are sized for. */
export function prefetchCap(setting: PrefetchSetting, slots: number, bulkAllowed: boolean): number {
  if (!bulkAllowed) return 1;
  return setting === 'auto' ? autoPrefetchCap(slots) : setting;
}

/** Tokens to ask for in the next claim, given the mean runtime of this pilot's finished tokens. */
export function prefetchDepth(setting: PrefetchSetting, options: { slots: number; bulkAllowed: boolean; meanRuntimeMs?: number }): number {
  if (!options.bulkAllowed) return 1;
  if (setting !== 'auto') return setting;
  const mean = options.meanRuntimeMs;
  if (mean === undefined) return 1;
  return Math.max(1, Math.min(autoPrefetchCap(options.slots), workAhead(options.slots, mean)));
}

/** Tokens of `mean` ms that keep `units` slots (or cores) busy for AUTO_PREFETCH_AHEAD_MS, in units. */
function workAhead(units: number, mean: number): number {
  return Math.floor((AUTO_PREFETCH_AHEAD_MS * units) / Math.max(mean, 1));
}

/**
 * Cores of larger tokens (more than one core) a claim may take beyond the room, queued to start as the
 * tokens before them end. `auto`: about two seconds of the pilot's cores, from the mean runtime seen so far
 * (at least `depth` cores, as a fixed `--prefetch N` gives: N cores): a pool of short 4-core tokens on a
 * 4-core pilot is then claimed ten at a time, as one-core tokens are claimed sixteen at a time, instead of
 * a claim round (a view read, a claim write, a completion write) every few tokens.
 */
export function prefetchCores(setting: PrefetchSetting, depth: number, options: { cpus: number; bulkAllowed: boolean; meanRuntimeMs?: number }): number {
  if (!options.bulkAllowed) return 1;
  const mean = options.meanRuntimeMs;
  if (setting !== 'auto' || mean === undefined) return depth;
  return Math.max(depth, workAhead(options.cpus, mean));
}

/** Parses `--prefetch`: "auto" or a whole number of at least 1. */
export function parsePrefetch(value: unknown): PrefetchSetting | undefined {
  if (value === undefined || value === 'auto') return 'auto';
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}
