/**
 * `picas retry`: error tokens back to todo, with scrub_count + 1 (PiCaS' scrub). Explicit ids, or every
 * token in the `Monitor/error` view; with `maxScrub`, only tokens whose scrub_count is below it.
 * A 409 on the write means the token changed since it was read: skipped and reported.
 */
import type { Couch } from '../couch/connection.js';
import { tokenState, type TokenDoc } from '../token.js';
import { collectDocs, readTokens, writeScrubbed, type ScrubOutcome, type Skipped } from './reset.js';
import { unblockDependents } from './release-dependents.js';

export interface RetryOptions {
  ids?: readonly string[];
  /** only tokens with scrub_count below this */
  maxScrub?: number;
  dryRun?: boolean;
  nowMs?: number;
  signal?: AbortSignal;
}

/** An error token: the Monitor/error view's condition, or Python PiCaS' `Task.error()` (lock = done = -1). */
function isErrored(doc: TokenDoc): boolean {
  return tokenState(doc) === 'error' || (doc.lock === -1 && doc.done === -1);
}

export async function retryTokens(couch: Couch, options: RetryOptions = {}): Promise<ScrubOutcome & { unblocked?: string[] }> {
  const ids = options.ids ?? [];
  const skipped: Skipped[] = [];
  const candidates = ids.length > 0 ? await readTokens(couch, ids, skipped, options.signal) : await collectDocs(couch, 'Monitor', 'error', { signal: options.signal });
  const targets: Array<{ doc: TokenDoc; message: string }> = [];
  for (const doc of candidates) {
    if (!isErrored(doc)) {
      const root = doc.blocked_by?.id;
      skipped.push({ id: doc._id, reason: root && tokenState(doc) === 'blocked' ? `blocked by ${root}: retry ${root}` : `not in error (${tokenState(doc)})` });
      continue;
    }
    const scrubCount = typeof doc.scrub_count === 'number' ? doc.scrub_count : 0;
    if (options.maxScrub !== undefined && scrubCount >= options.maxScrub) {
      skipped.push({ id: doc._id, reason: `scrub_count ${scrubCount} reached --max-scrub ${options.maxScrub}` });
      continue;
    }
    targets.push({ doc, message: `retried by picas retry (exit code ${String(doc.exit_code)})` });
  }
  const outcome: ScrubOutcome & { unblocked?: string[] } = await writeScrubbed(couch, targets, 'retry', { dryRun: options.dryRun, nowMs: options.nowMs, skipped, signal: options.signal });
  // the tokens that were blocked because these failed wait again (docs/dag.md)
  const changed = new Set(outcome.changed);
  if (!options.dryRun) {
    for (const { doc } of targets) {
      if (!doc.has_dependents || !changed.has(doc._id)) continue;
      const r = await unblockDependents(couch.http, doc._id, { actor: 'picas retry', signal: options.signal });
      (outcome.unblocked ??= []).push(...r.unblocked);
    }
  }
  return outcome;
}
