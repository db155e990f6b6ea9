import type { Command } from 'commander';
import type { Couch } from '@picas/core';
import { note, say, withCouch } from '../context.js';
import { durationOption, idListOption } from '../option-parsers.js';
import { streamScrub } from '../scrub-report.js';

interface ResetFlags {
  olderThan?: number;
  expired?: boolean;
  pilot?: string[];
  lost?: boolean;
  all?: boolean;
  dryRun?: boolean;
}

export function register(program: Command): void {
  program
    .command('reset')
    .description('put locked tokens back to todo (PiCaS scrub: lock fields cleared, scrub_count + 1)')
    .argument('[ids...]', 'token ids')
    .option('--older-than <duration>', 'only tokens locked longer than this (by their lock time), e.g. 2h', durationOption)
    .option('--expired', 'only tokens whose lease expired (their pilot stopped renewing it)')
    .option('--pilot <ids>', "only tokens held by these pilots (worker ids, as picas pilots shows them; comma-separate or repeat): a killed pilot's tokens at once", idListOption)
    .option('--lost', 'only tokens held by pilots that picas pilots shows as lost (they missed their renewals)')
    .option('--all', 'every locked token (careful: running pilots hold some of them)')
    .option('--dry-run', 'list what would be reset, change nothing')
    .addHelpText(
      'after',
      `\nExamples:\n  picas reset --expired\n  picas reset --lost\n  picas reset --pilot node12-4711-ab12\n  picas reset --older-than 2h --dry-run\n  picas reset token_1 token_2\n\nAll given conditions must hold. A token that changed since it was read is skipped, never overwritten.`,
    )
    .action(async (ids: string[], flags: ResetFlags, command: Command) => {
      const { checkResetSelection, resetTokens } = await import('@picas/core/ops/reset');
      const named = flags.lost ? [] : flags.pilot;
      checkResetSelection({ ids, olderThanMs: flags.olderThan, expired: flags.expired, pilots: named, all: flags.all });
      await withCouch(command, async (couch) => {
        const pilots = flags.lost || flags.pilot ? await selectPilots(couch, flags) : undefined;
        if (pilots?.length === 0) {
          say('no lost pilots: nothing to reset');
          return;
        }
        await streamScrub(couch, { verb: 'reset', past: 'reset' }, { ids, state: 'locked', dryRun: flags.dryRun }, (hooks) =>
          resetTokens(couch, { ids, olderThanMs: flags.olderThan, expired: flags.expired, pilots, all: flags.all, dryRun: flags.dryRun, ...hooks }),
        );
      });
    });
}

/**
 * The pilots whose tokens to reset, from their records: with --lost the lost ones (of those named with
 * --pilot, if any). A named pilot that is still running is reset all the same, with a note: it stops
 * the commands of its reset tokens at its next renewal.
 */
async function selectPilots(couch: Couch, flags: ResetFlags): Promise<string[]> {
  const { listPilots } = await import('@picas/core/ops/list-pilots');
  const records = await listPilots(couch);
  if (flags.lost) {
    const lost = records.filter((p) => p.shown === 'lost' && (!flags.pilot || flags.pilot.includes(p.pilot_id))).map((p) => p.pilot_id);
    if (lost.length > 0) note(`picas: lost pilot${lost.length === 1 ? '' : 's'}: ${lost.join(', ')}`);
    return lost;
  }
  const named = flags.pilot ?? [];
  for (const p of records) {
    if (named.includes(p.pilot_id) && p.shown === 'running') {
      note(`picas: pilot ${p.pilot_id} is running (heartbeat ${Math.max(0, Math.round(Date.now() / 1000 - p.heartbeat))}s ago): it stops the commands of the tokens reset here at its next renewal`);
    }
  }
  return named;
}
