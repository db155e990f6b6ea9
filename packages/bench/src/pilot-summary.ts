/** What the bench reads from a picas-worker's summary JSON log line (`"summary": true`, logged at info). */

export interface PilotSummary {
  done?: number;
  failed?: number;
  claimed?: number;
  http_requests?: number;
  peak_rss_mb?: number;
  cpu_ms?: number;
  commands_cpu_ms?: number;
  claims?: { won?: number; conflicts?: number; accepted?: number; attempts?: number; writes?: number; viewReads?: number };
  claim_latency_ms?: { n: number; p50: number; p99: number };
  completions?: { batches?: number; batched?: number; singles?: number };
}

/** The last summary line in a pilot's stderr; {} when there is none (a log level above info). */
export function parsePilotSummary(stderr: string): PilotSummary {
  const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
  for (const line of lines.reverse()) {
    try {
      const obj = JSON.parse(line);
      if (obj.summary === true) return obj as PilotSummary;
    } catch {
      // not JSON
    }
  }
  return {};
}
