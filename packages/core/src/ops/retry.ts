/**
 * `picas retry`: error tokens back to todo, with scrub_count + 1 (PiCaS' scrub). Explicit ids, or every
 * token in the `Monitor/error` view; with `maxScrub`, only tokens whose scrub_count is below it.
 * Streamed like reset (reset.ts): a page read, then written with one `_bulk_docs` fenced by each `_rev`;
 * a conflict means the token changed since it was read: skipped and reported.
 */
import type { Couch } from '../couch/connection.js';
import { tokenState, type TokenDoc } from '../token.js';
import { docPages, scrubPages, tokenPages, type ScrubOutcome, type ScrubRunOptions, type Skipped } from './reset.js';
import { unblockDependents } from './release-dependents.js';

export interface RetryOptions extends ScrubRunOptions {
  ids?: readonly string[];
  /** only tokens with scrub_count below this */
  maxScrub?: number;
}

/** An error token: the Monitor/error view's condition, or Python PiCaS' `Task.error()` (lock = done = -1). */
function isErrored(doc: TokenDoc): boolean {
  return tokenState(doc) === 'error' || (doc.lock === -1 && doc.done === -1);
}

export async function retryTokens(couch: Couch, options: RetryOptions = {}): Promise<ScrubOutcome & { unblocked?: string[] }> {
  const ids = options.ids ?? [];
  const pages = ids.length > 0 ? tokenPages(couch, ids, options) : docPages(couch, 'Monitor', 'error', options);
  const select = (doc: TokenDoc, skipped: Skipped[]): string | undefined => {
    if (!isErrored(doc)) {
      const root = doc.blocked_by?.id;
      skipped.push({ id: doc._id, reason: root && tokenState(doc) === 'blocked' ? `blocked by ${root}: retry ${root}` : `not in error (${tokenState(doc)})` });
      return undefined;
    }
    const scrubCount = typeof doc.scrub_count === 'number' ? doc.scrub_count : 0;
    if (options.maxScrub !== undefined && scrubCount >= options.maxScrub) {
      skipped.push({ id: doc._id, reason: `scrub_count ${scrubCount} reached --max-scrub ${options.maxScrub}` });
      return undefined;
    }
    return `retried by picas retry (exit code ${String(doc.exit_code)})`;
  };
  let unblocked: string[] | undefined;
  const outcome: ScrubOutcome & { unblocked?: string[] } = await scrubPages(couch, pages, select, 'retry', {
    ...options,
    // the tokens that were blocked because these failed wait again (docs/dag.md)
    afterWrite: async (targets, page) => {
      if (options.dryRun) return;
      const changed = new Set(page.changed);
      for (const { doc } of targets) {
        if (!doc.has_dependents || !changed.has(doc._id)) continue;
        const r = await unblockDependents(couch.http, doc._id, { actor: 'picas retry', signal: options.signal });
        (unblocked ??= []).push(...r.unblocked);
      }
    },
  });
  if (unblocked) outcome.unblocked = unblocked;
  return outcome;
}
