/**
 * `picas results`: one row per token with its parameters, state, exit code, run time, host, attempts and,
 * with `extract`, the first capture group of a regular expression in its stdout log (the whole match when
 * it has no group). Streamed a page at a time, as `picas list` is: the logs of a page are read a few at a
 * time, and only that page is held.
 */
import type { Couch } from '../couch/connection.js';
import { NotFoundError } from '../errors.js';
import type { AnyTokenState } from '../token.js';
import { listTokens } from './list-tokens.js';
import { hasLog, readTokenLog } from './token-log.js';

export type ResultState = 'done' | 'error' | 'all';

export interface ResultRow {
  id: string;
  state: AnyTokenState;
  params: Record<string, string>;
  /** '' before the token has run */
  exit_code: number | string;
  run_seconds: number | null;
  host: string;
  attempts: number;
  /** what `extract` found; null when the log has no match or no log */
  value?: string | null;
}

export interface ResultRowsOptions {
  state?: ResultState;
  extract?: RegExp;
  /** tokens read (and logs fetched) per page */
  pageSize?: number;
  signal?: AbortSignal;
}

/** Logs read at once within a page. */
const LOG_READS = 8;

export async function* resultRows(couch: Couch, options: ResultRowsOptions = {}): AsyncGenerator<ResultRow> {
  const state = options.state === 'all' || options.state === undefined ? undefined : options.state;
  const pageSize = Math.max(1, options.pageSize ?? 200);
  let page: ResultRow[] = [];
  const finish = async (rows: ResultRow[]) => {
    if (options.extract) await extractAll(couch, rows, options.extract, options.signal);
    return rows;
  };
  for await (const { state: tokenState, doc } of listTokens(couch, { state, signal: options.signal })) {
    const params = doc.params && typeof doc.params === 'object' && !Array.isArray(doc.params) ? (doc.params as Record<string, string>) : {};
    const row: ResultRow = {
      id: doc._id,
      state: tokenState,
      params,
      exit_code: doc.exit_code ?? '',
      run_seconds: typeof doc.run_seconds === 'number' ? doc.run_seconds : null,
      host: typeof doc.hostname === 'string' ? doc.hostname : '',
      attempts: typeof doc.attempts === 'number' ? doc.attempts : 0,
    };
    if (options.extract) row.value = hasLog(doc, 'out') ? '' : null;
    page.push(row);
    if (page.length >= pageSize) {
      yield* await finish(page);
      page = [];
    }
  }
  if (page.length > 0) yield* await finish(page);
}

/** Sets each row's `value` from its stdout log, LOG_READS logs at a time. */
async function extractAll(couch: Couch, rows: ResultRow[], pattern: RegExp, signal?: AbortSignal): Promise<void> {
  const pending = rows.filter((r) => r.value === '');
  const next = async (): Promise<void> => {
    for (let row = pending.shift(); row; row = pending.shift()) {
      // a log removed since the page was read (the token was reset and is running again) has no value
      const log = await readTokenLog(couch.http, row.id, 'out', signal).catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
      row.value = log === undefined ? null : extractValue(log.toString('utf8'), pattern);
    }
  };
  await Promise.all(Array.from({ length: LOG_READS }, next));
}

/** The first capture group of the first match (the whole match when the pattern has no group), or null. */
export function extractValue(text: string, pattern: RegExp): string | null {
  const match = pattern.exec(text);
  if (!match) return null;
  return match.length > 1 ? (match[1] ?? null) : match[0];
}
