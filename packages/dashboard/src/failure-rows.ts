/**
 * The dashboard's failures table: the newest failed tokens (the picas_dashboard/failures view), each with
 * the last lines of its stderr, read once per failure and kept (never a view read per refresh).
 */
import type { CouchHttp } from '@picas/core';

const FAILURE_ROWS = 20;
const STDERR_TAIL_LINES = 5;

export interface FailureRow {
  id: string;
  when: number;
  exitCode: unknown;
  host: unknown;
  pilot: unknown;
  message: unknown;
  stderr: string;
}

export class FailureRows {
  private readonly stderrCache = new Map<string, string>();

  async read(http: CouchHttp, signal: AbortSignal): Promise<FailureRow[]> {
    const res = await http.request<{ rows?: Array<{ id: string; key: number; value: Record<string, unknown> }> }>({
      path: http.dbPath('/_design/picas_dashboard/_view/failures'),
      query: { descending: true, limit: FAILURE_ROWS },
      signal,
      timeoutMs: 120_000,
    });
    if (res.status >= 300) throw http.errorFor(res, 'reading the picas_dashboard/failures view (run picas init)');
    const rows: FailureRow[] = [];
    for (const row of res.body?.rows ?? []) {
      rows.push({ id: row.id, when: row.key, exitCode: row.value?.exit_code ?? null, host: row.value?.hostname ?? '', pilot: row.value?.worker_id ?? '', message: row.value?.message ?? '', stderr: await this.stderrTail(http, row.id, row.key, signal) });
    }
    return rows;
  }

  /** The last lines of a failed token's stderr, read once per failure. */
  private async stderrTail(http: CouchHttp, id: string, when: number, signal: AbortSignal): Promise<string> {
    const key = `${id}\0${when}`;
    const cached = this.stderrCache.get(key);
    if (cached !== undefined) return cached;
    let tail = '';
    try {
      const res = await http.request<Buffer>({ path: http.docPath(id, `logs_${id}.err`), raw: true, signal, timeoutMs: 15_000 });
      if (res.status === 200) {
        const lines = (res.body as Buffer).toString('utf8').replace(/\s+$/, '').split('\n');
        tail = lines.slice(-STDERR_TAIL_LINES).join('\n').slice(-800);
      }
    } catch {
      return ''; // shown without; read again on the next refresh
    }
    if (this.stderrCache.size > 500) this.stderrCache.clear();
    this.stderrCache.set(key, tail);
    return tail;
  }
}
