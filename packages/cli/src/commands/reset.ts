import type { Command } from 'commander';
import { withCouch } from '../context.js';
import { durationOption } from '../option-parsers.js';
import { streamScrub } from '../scrub-report.js';

interface ResetFlags {
  olderThan?: number;
  expired?: boolean;
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
    .option('--all', 'every locked token (careful: running pilots hold some of them)')
    .option('--dry-run', 'list what would be reset, change nothing')
    .addHelpText(
      'after',
      `\nExamples:\n  picas reset --expired\n  picas reset --older-than 2h --dry-run\n  picas reset token_1 token_2\n\nAll given conditions must hold. A token that changed since it was read is skipped, never overwritten.`,
    )
    .action(async (ids: string[], flags: ResetFlags, command: Command) => {
      const { checkResetSelection, resetTokens } = await import('@picas/core/ops/reset');
      checkResetSelection({ ids, olderThanMs: flags.olderThan, expired: flags.expired, all: flags.all });
      await withCouch(command, async (couch) => {
        await streamScrub(couch, { verb: 'reset', past: 'reset' }, { ids, state: 'locked', dryRun: flags.dryRun }, (hooks) =>
          resetTokens(couch, { ids, olderThanMs: flags.olderThan, expired: flags.expired, all: flags.all, dryRun: flags.dryRun, ...hooks }),
        );
      });
    });
}
