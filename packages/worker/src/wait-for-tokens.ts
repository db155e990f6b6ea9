/**
 * With `--endless`: wait until the database changes, on `_changes?feed=longpoll` from a known sequence,
 * with our own time limit (the embedded server ignores `timeout` and can hang). If the feed is not
 * available, fall back to sleeping `--poll-interval`.
 */
import { sleep, UnreachableError, type CouchHttp, type Logger } from '@picas/core';

export type WaitResult = 'changed' | 'timeout' | 'polled' | 'aborted';

export interface WaitOptions {
  /** sequence to wait from (from `GET /db` before the last claim attempt); `now` when unknown */
  since?: unknown;
  signal?: AbortSignal;
  /** longest single wait (ms) */
  timeoutMs?: number;
  pollIntervalMs: number;
  log?: Logger;
}

export async function waitForChanges(http: CouchHttp, options: WaitOptions): Promise<WaitResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (options.signal?.aborted) return 'aborted';
  try {
    const res = await http.request<{ results?: unknown[] }>({
      path: http.dbPath('/_changes'),
      query: { feed: 'longpoll', since: options.since === undefined ? 'now' : String(options.since), timeout: timeoutMs, limit: 1 },
      signal: options.signal,
      timeoutMs: timeoutMs + 2_000,
    });
    if (res.status === 200) return (res.body?.results?.length ?? 0) > 0 ? 'changed' : 'timeout';
    if (res.status === 401 || res.status === 403) throw http.errorFor(res, 'waiting for changes');
    options.log?.debug({ status: res.status }, '_changes unavailable: polling');
  } catch (err) {
    if (options.signal?.aborted) return 'aborted';
    if (!(err instanceof UnreachableError)) throw err;
    if (/\(timeout\)/.test(err.message)) return 'timeout';
    options.log?.debug({ err }, '_changes failed: polling');
  }
  await sleep(options.pollIntervalMs, options.signal);
  return options.signal?.aborted ? 'aborted' : 'polled';
}
