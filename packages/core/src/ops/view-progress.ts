/**
 * Reading a view whose index may still be building (right after a large push, or after `picas init`
 * changed a design document). CouchDB answers a view read only once the index has caught up, and gives up
 * with a 500 (`timeout`) when that takes longer than its request timeout. Here the read is simply made
 * again while CouchDB's `_active_tasks` shows the index being built, and the build's progress is reported
 * meanwhile, so that the caller can show it instead of an error.
 */
import type { CouchHttp, CouchRequest, CouchResponse } from '../couch/http.js';
import { UnreachableError } from '../errors.js';

export interface IndexBuild {
  /** the design document being indexed, e.g. `_design/picas` */
  design: string;
  changesDone: number;
  totalChanges: number;
  /** 0..100 */
  percent: number;
}

interface ActiveTask {
  type?: string;
  database?: string;
  design_document?: string;
  changes_done?: number;
  total_changes?: number;
}

/** `shards/00000000-7fffffff/tokens.1712345678` (CouchDB) or `tokens` (the embedded server) → `tokens`. */
export function taskDatabase(database: string): string {
  const m = /^shards\/[0-9a-f]+-[0-9a-f]+\/(.*)\.\d+$/.exec(database);
  return m ? m[1]! : database;
}

/**
 * The index builds running for this database, one entry per design document (its shards summed), from
 * `_active_tasks`. Empty when nothing builds, or when this account may not read `_active_tasks` (it needs
 * server admin rights).
 */
export async function indexBuilds(http: CouchHttp, signal?: AbortSignal): Promise<IndexBuild[]> {
  let res: CouchResponse<ActiveTask[]>;
  try {
    res = await http.request<ActiveTask[]>({ path: '/_active_tasks', signal, timeoutMs: 10_000 });
  } catch (err) {
    if (err instanceof UnreachableError) return [];
    throw err;
  }
  if (res.status !== 200 || !Array.isArray(res.body)) return [];
  return summarizeBuilds(res.body, http.db);
}

/** Sums the indexer tasks of `db` per design document. */
export function summarizeBuilds(tasks: readonly ActiveTask[], db: string): IndexBuild[] {
  const byDesign = new Map<string, IndexBuild>();
  for (const t of tasks) {
    if (t.type !== 'indexer' || !t.database || !t.design_document || taskDatabase(t.database) !== db) continue;
    const b = byDesign.get(t.design_document) ?? { design: t.design_document, changesDone: 0, totalChanges: 0, percent: 0 };
    b.changesDone += Number(t.changes_done) || 0;
    b.totalChanges += Number(t.total_changes) || 0;
    b.percent = b.totalChanges > 0 ? Math.min(100, Math.floor((100 * b.changesDone) / b.totalChanges)) : 0;
    byDesign.set(t.design_document, b);
  }
  return [...byDesign.values()];
}

export interface ViewReadOptions {
  signal?: AbortSignal;
  /** called with the running index builds while the read waits (first after `quietMs`, then every `everyMs`) */
  onProgress?: (builds: IndexBuild[]) => void;
  quietMs?: number;
  everyMs?: number;
}

/** A GET of a view that waits for (and reports) an index build instead of failing while it runs. */
export async function readViewWhileBuilding<T>(http: CouchHttp, path: string, query: NonNullable<CouchRequest['query']>, options: ViewReadOptions = {}): Promise<CouchResponse<T>> {
  const quietMs = options.quietMs ?? 1000;
  const everyMs = options.everyMs ?? 2000;
  for (;;) {
    let settled = false;
    const pending = http.request<T>({ path, query, signal: options.signal, timeoutMs: 15 * 60_000 });
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    let wait = quietMs;
    while (!settled) {
      const pause = new AbortController();
      const stopPause = () => pause.abort();
      options.signal?.addEventListener('abort', stopPause, { once: true });
      await Promise.race([pending.catch(() => undefined), delay(wait, pause.signal)]);
      pause.abort(); // no timer outlives the read
      options.signal?.removeEventListener('abort', stopPause);
      wait = everyMs;
      if (settled || options.signal?.aborted) break;
      const builds = await indexBuilds(http, options.signal);
      if (builds.length > 0 && !settled) options.onProgress?.(builds);
    }
    const res = await pending;
    // CouchDB gave up waiting for the index (its own request timeout): ask again while it still builds
    if (res.status >= 500 && !options.signal?.aborted && (await indexBuilds(http, options.signal)).length > 0) continue;
    return res;
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** One line for a person: `building the index of _design/picas: 45% (45000 of 100000 changes)`. */
export function describeBuilds(builds: readonly IndexBuild[]): string {
  return builds.map((b) => `building the index of ${b.design}: ${b.percent}% (${b.changesDone} of ${b.totalChanges} changes)`).join('; ');
}
