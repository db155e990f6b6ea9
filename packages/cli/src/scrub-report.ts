/** What `picas reset` and `picas retry` print: each token changed or skipped (and why), a page at a time, then a summary. */
import type { Couch } from '@picas/core';
import type { ScrubOutcome, ScrubPage } from '@picas/core/ops/reset';
import { say } from './context.js';
import { missingTokensError } from './missing-tokens.js';
import { OpProgress, stateTotal } from './op-progress.js';

type Words = { verb: string; past: string };

export function reportScrubPage(page: Pick<ScrubPage, 'changed' | 'skipped'>, dryRun: boolean, words: Words): void {
  for (const id of page.changed) say(dryRun ? `would ${words.verb} ${id}` : `${words.past} ${id}`);
  for (const { id, reason } of page.skipped) say(`skipped ${id}: ${reason}`);
}

export function reportScrubSummary(counts: { changed: number; skipped: number }, dryRun: boolean, words: Words): void {
  const n = counts.changed;
  const tokens = `${n} token${n === 1 ? '' : 's'}`;
  const skipped = counts.skipped ? `; skipped ${counts.skipped}` : '';
  say(dryRun ? `dry run: would ${words.verb} ${tokens} to todo${skipped}; nothing was changed` : `${words.past} ${tokens} to todo${skipped}`);
}

/**
 * Runs a streamed reset or retry: each page is printed as soon as it is written (nothing is kept), the
 * progress shown on stderr, and the summary printed at the end, then what `report` adds. Ids that name no
 * token are an error (exit code 4) once the others are done.
 */
export async function streamScrub<T extends ScrubOutcome>(
  couch: Couch,
  words: Words,
  selection: { ids: readonly string[]; state: 'locked' | 'error'; dryRun?: boolean },
  run: (hooks: { onPage: (page: ScrubPage) => void; onProgress: OpProgress['onIndexBuild'] }) => Promise<T>,
  report?: (outcome: T) => void,
): Promise<T> {
  const progress = new OpProgress(words.verb === 'reset' ? 'resetting' : 'retrying', undefined);
  progress.setTotal(selection.ids.length > 0 ? new Set(selection.ids).size : await stateTotal(couch, selection.state, progress));
  let scanned = 0;
  let changed = 0;
  let skipped = 0;
  const missing: string[] = [];
  try {
    const outcome = await run({
      onProgress: progress.onIndexBuild,
      onPage: (page) => {
        progress.clear();
        reportScrubPage(page, !!selection.dryRun, words);
        scanned += page.scanned;
        changed += page.changed.length;
        skipped += page.skipped.length;
        for (const s of page.skipped) if (s.missing) missing.push(s.id);
        progress.update(scanned, `${changed} ${selection.dryRun ? `to ${words.verb}` : words.past}, ${skipped} skipped`);
      },
    });
    progress.finish();
    reportScrubSummary(outcome.counts ?? { changed, skipped }, !!selection.dryRun, words);
    report?.(outcome);
    if (missing.length > 0) throw missingTokensError(missing, couch.config.db);
    return outcome;
  } finally {
    progress.finish();
  }
}
