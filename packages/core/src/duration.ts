/** Parses durations as users write them: `90`, `90s`, `5m`, `2h`, `1d`, `1h30m`, `1500ms`. Returns milliseconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new RangeError(`invalid duration ${text}`);
    return text * 1000;
  }
  const trimmed = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // Slurm style HH:MM:SS or MM:SS, and D-HH:MM:SS
  const clock = /^(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?$/.exec(trimmed);
  if (clock) {
    const [, d, a, b, c] = clock;
    const days = d ? Number(d) : 0;
    const [h, m, s] = c === undefined ? [0, Number(a), Number(b)] : [Number(a), Number(b), Number(c)];
    return ((days * 24 + h) * 3600 + m * 60 + s) * 1000;
  }
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(re)) {
    if (match.index !== consumed) break;
    total += Number(match[1]) * units[match[2]!]!;
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new RangeError(`invalid duration '${text}' (use e.g. 90, 90s, 5m, 2h, 1h30m or HH:MM:SS)`);
  }
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  return `${h}h${m % 60}m`;
}

/** A duration exactly as a user would write it, for help and settings: `10s`, `5m`, `1h30m`, `1500ms`. */
export function durationText(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 1000 !== 0) return `${ms}ms`;
  const units: Array<[string, number]> = [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]];
  let rest = ms / 1000;
  let text = '';
  for (const [unit, seconds] of units) {
    const n = Math.floor(rest / seconds);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * seconds;
  }
  return text;
}
