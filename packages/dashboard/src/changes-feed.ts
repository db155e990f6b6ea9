/**
 * The dashboard's server-side `_changes` feed: longpoll from the current sequence, with its own time limit
 * per request (the embedded server ignores `timeout` and can hang), no `filter=` (it crashes the embedded
 * server), at most one request per `minIntervalMs` (a busy pool does not turn it into a polling storm), a
 * backoff on errors, and a stop path (`stop()` aborts the request in flight and ends the loop).
 */
import { backoffDelay, sleep, UnreachableError, type CouchHttp, type Logger } from '@picas/core';

export interface ChangesFeedOptions {
  /** called with the ids that changed since the last call (design documents included) */
  onChanges: (ids: string[]) => void;
  /** called when the feed fails (and again with undefined when it works again) */
  onError?: (err: unknown) => void;
  log?: Logger;
  /** the longest a longpoll may wait (ms); the request itself is cut 5 s later */
  timeoutMs?: number;
  /** at least this long between two requests (ms) */
  minIntervalMs?: number;
}

export class ChangesFeed {
  private readonly stopper = new AbortController();
  private loop?: Promise<void>;
  /** `_changes` requests sent */
  requests = 0;

  constructor(
    private readonly http: CouchHttp,
    private readonly options: ChangesFeedOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { http } = this;
    const signal = this.stopper.signal;
    const timeoutMs = this.options.timeoutMs ?? 25_000;
    const minInterval = this.options.minIntervalMs ?? 500;
    let since: unknown = 'now';
    let failures = 0;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        this.requests++;
        const res = await http.request<{ results?: Array<{ id: string }>; last_seq?: unknown }>({
          path: http.dbPath('/_changes'),
          query: { feed: 'longpoll', since: typeof since === 'string' ? since : JSON.stringify(since), timeout: timeoutMs, limit: 10_000 },
          signal,
          timeoutMs: timeoutMs + 5_000,
        });
        if (res.status !== 200) throw http.errorFor(res, 'following the _changes feed');
        if (failures > 0) this.options.onError?.(undefined);
        failures = 0;
        if (res.body?.last_seq !== undefined) since = res.body.last_seq;
        const ids = (res.body?.results ?? []).map((r) => r.id);
        if (ids.length > 0) this.options.onChanges(ids);
      } catch (err) {
        if (signal.aborted) break;
        // our own time limit on a longpoll that hung: just ask again
        if (err instanceof UnreachableError && /\(timeout\)/.test(err.message)) continue;
        failures++;
        this.options.onError?.(err);
        this.options.log?.warn({ err }, 'dashboard: the _changes feed failed; retrying');
        await sleep(backoffDelay(failures, 1000, 30_000), signal);
        continue;
      }
      const wait = minInterval - (Date.now() - started);
      if (wait > 0) await sleep(wait, signal);
    }
  }
}
