import type { Command } from 'commander';
import { say, withCouch } from '../context.js';
import { countOption } from '../option-parsers.js';
import { streamScrub } from '../scrub-report.js';

interface RetryFlags {
  maxScrub?: number;
  dryRun?: boolean;
}

export function register(program: Command): void {
  program
    .command('retry')
    .description('put error tokens back to todo (scrub_count + 1)')
    .argument('[ids...]', 'token ids (default: every error token)')
    .option('--max-scrub <n>', 'only tokens whose scrub_count is below n', countOption)
    .option('--dry-run', 'list what would be retried, change nothing')
    .addHelpText('after', `\nExamples:\n  picas retry\n  picas retry --max-scrub 3\n  picas retry token_7 --dry-run`)
    .action(async (ids: string[], flags: RetryFlags, command: Command) => {
      const { retryTokens } = await import('@picas/core/ops/retry');
      await withCouch(command, async (couch) => {
        await streamScrub(
          couch,
          { verb: 'retry', past: 'retried' },
          { ids, state: 'error', dryRun: flags.dryRun },
          (hooks) => retryTokens(couch, { ids, maxScrub: flags.maxScrub, dryRun: flags.dryRun, ...hooks }),
          (outcome) => {
            const unblocked = outcome.unblocked ?? [];
            if (unblocked.length > 0) say(`${unblocked.length} blocked dependent token${unblocked.length === 1 ? '' : 's'} waiting again: ${unblocked.slice(0, 10).join(', ')}${unblocked.length > 10 ? ', ...' : ''}`);
          },
        );
      });
    });
}
