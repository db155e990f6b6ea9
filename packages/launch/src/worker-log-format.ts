/**
 * Renders a picas-worker JSON log line (pino) as one short human line, for `picas launch local` on a
 * terminal: `14:02:03 INFO claimed token=token_1 attempts=1`. Anything that is not a log line is
 * returned unchanged. The worker's summary entry gives `undefined`: the worker prints the same summary
 * as a plain line on stdout.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'worker', 'summary']);

export function formatWorkerLogLine(line: string): string | undefined {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.level !== 'number' || typeof entry.msg !== 'string') return line;
  if (entry.summary === true) return undefined;
  const time = typeof entry.time === 'number' ? new Date(entry.time).toTimeString().slice(0, 8) : '';
  const fields: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (HIDDEN.has(key) || value === null || value === undefined) continue;
    if (key === 'err' && value && typeof value === 'object') {
      fields.push(`err=${JSON.stringify((value as { message?: unknown }).message ?? value)}`);
      continue;
    }
    fields.push(`${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  return [time, LEVELS[entry.level] ?? String(entry.level), entry.msg, ...fields].filter(Boolean).join(' ');
}
