/**
 * One log entry (a pino JSON line) as one short human line: `14:02:03 INFO claimed token=token_1 attempts=1`
 * (time, level, message, then key=value pairs). The loggers' `text` format writes this (logger.ts), and
 * `picas launch local` renders its workers' JSON lines with it. The worker's summary entry gives `undefined`:
 * the worker prints the same summary as a plain line on stdout.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'worker', 'summary']);

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** A log entry as a text line; undefined for the worker's summary entry. */
export function logEntryText(entry: Record<string, unknown>): string | undefined {
  if (entry.summary === true) return undefined;
  const time = typeof entry.time === 'number' ? new Date(entry.time).toTimeString().slice(0, 8) : '';
  const level = typeof entry.level === 'number' ? (LEVELS[entry.level] ?? String(entry.level)) : String(entry.level ?? '');
  const fields: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (HIDDEN.has(key) || value === null || value === undefined) continue;
    if (key === 'err' && typeof value === 'object') {
      fields.push(`err=${JSON.stringify((value as { message?: unknown }).message ?? value)}`);
      continue;
    }
    fields.push(`${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  return [time, level, typeof entry.msg === 'string' ? entry.msg : '', ...fields].filter(Boolean).join(' ');
}

/** A pino JSON line as a text line; anything that is not a log line is returned unchanged. */
export function logLineText(line: string): string | undefined {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.level !== 'number' || typeof entry.msg !== 'string') return line;
  return logEntryText(entry);
}
