/** What `picas reset` and `picas retry` print: each token changed or skipped (and why), then a summary. */
import type { ScrubOutcome } from '@picas/core/ops/reset';
import { say } from './context.js';

export function reportScrub(outcome: ScrubOutcome, words: { verb: string; past: string }): void {
  for (const id of outcome.changed) say(outcome.dryRun ? `would ${words.verb} ${id}` : `${words.past} ${id}`);
  for (const { id, reason } of outcome.skipped) say(`skipped ${id}: ${reason}`);
  const n = outcome.changed.length;
  const tokens = `${n} token${n === 1 ? '' : 's'}`;
  const skipped = outcome.skipped.length ? `; skipped ${outcome.skipped.length}` : '';
  say(outcome.dryRun ? `dry run: would ${words.verb} ${tokens} to todo${skipped}; nothing was changed` : `${words.past} ${tokens} to todo${skipped}`);
}
