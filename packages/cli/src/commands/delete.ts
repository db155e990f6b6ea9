import { Option, type Command } from 'commander';
import { describeConnection, UsageError, type AnyTokenState } from '@picas/core';
import { confirm } from '../confirm.js';
import { connectionFor, note, say, withCouch } from '../context.js';
import { missingTokensError } from '../missing-tokens.js';
import { STATE_CHOICES } from '../option-parsers.js';
import type { Couch, TokenState } from '@picas/core';

interface DeleteFlags {
  state?: AnyTokenState;
  prefix?: string;
  yes?: boolean;
  dryRun?: boolean;
  force?: boolean;
}

export function register(program: Command): void {
  program
    .command('delete')
    .description('delete tokens by id, state or id prefix (asks first; --yes is required when stdin is not a terminal)')
    .argument('[ids...]', 'token ids')
    .addOption(new Option('--state <state>', 'every token in this state').choices(STATE_CHOICES))
    .option('--prefix <prefix>', 'every token whose id starts with this (with --state: only those in that state)')
    .option('-y, --yes', 'do not ask')
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--force', 'also delete tokens that waiting tokens depend on; those become blocked (docs/dag.md)')
    .addHelpText('after', `\nExamples:\n  picas delete --state done --yes\n  picas delete token_1 token_2\n  picas delete --prefix run2_ --dry-run`)
    .action(async (ids: string[], flags: DeleteFlags, command: Command) => {
      if (ids.length === 0 && !flags.state && flags.prefix === undefined) throw new UsageError('say which tokens to delete: IDS, --state todo|locked|done|error, or --prefix PREFIX');
      if (ids.length > 0 && flags.prefix !== undefined) throw new UsageError('give either IDS or --prefix, not both');
      if (flags.prefix === '') throw new UsageError('--prefix: give the start of the ids (an empty prefix would be every token: use --state)');
      const { findTokensToDelete, deleteTokens } = await import('@picas/core/ops/delete-tokens');
      const missing: string[] = [];
      await withCouch(command, async (couch) => {
        if (ids.length === 0 && flags.prefix === undefined && flags.state && flags.state !== 'waiting' && flags.state !== 'blocked') {
          // a whole state of a pool of any size: streamed, a page at a time
          await deleteState(couch, flags.state, flags);
          return;
        }
        const { targets, skipped } = await findTokensToDelete(couch, { ids, state: flags.state, prefix: flags.prefix });
        for (const { id, reason, missing: gone } of skipped) {
          say(`skipped ${id}: ${reason}`);
          if (gone) missing.push(id);
        }
        const what = `${targets.length} token${targets.length === 1 ? '' : 's'}${flags.state ? ` (${flags.state})` : ''}${flags.prefix !== undefined ? ` with ids starting ${flags.prefix}` : ''}`;
        if (targets.length === 0) {
          say('nothing to delete');
          return;
        }
        const { dependentsOfTargets, blockDependentsOfDeleted } = await import('../delete-dependents.js');
        const dependents = await dependentsOfTargets(couch, targets);
        if (dependents.size > 0 && !flags.force) {
          const [first, ids] = [...dependents][0]!;
          const more = dependents.size > 1 ? ` (and ${dependents.size - 1} more depended-on token${dependents.size > 2 ? 's' : ''})` : '';
          throw new UsageError(`token ${first} has ${ids.length} waiting token${ids.length === 1 ? '' : 's'} depending on it (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''})${more}: use --force to delete it and block them; nothing was deleted`);
        }
        if (flags.dryRun) {
          for (const t of targets) say(`would delete ${t.id} (${t.state})`);
          say(`dry run: would delete ${what}; nothing was deleted`);
          return;
        }
        const locked = targets.filter((t) => t.state === 'locked').length;
        if (locked > 0) note(`picas: ${locked} of them are locked: the pilots running them will lose them`);
        if (!flags.yes) {
          if (process.stdin.isTTY !== true) {
            throw new UsageError(`refusing to delete ${what} without --yes (stdin is not a terminal); nothing was deleted`);
          }
          if (!(await confirm(`delete ${what} from ${describeConnection(couch.config)}?`))) {
            say('nothing was deleted');
            return;
          }
        }
        const outcome = await deleteTokens(couch, targets);
        for (const { id, reason } of outcome.skipped) say(`skipped ${id}: ${reason}`);
        const blocked = await blockDependentsOfDeleted(couch, outcome.deleted.filter((id) => dependents.has(id)));
        if (blocked.length > 0) say(`blocked ${blocked.length} waiting token${blocked.length === 1 ? '' : 's'} that depended on deleted tokens`);
        say(`deleted ${outcome.deleted.length} token${outcome.deleted.length === 1 ? '' : 's'}${outcome.skipped.length ? `; skipped ${outcome.skipped.length}` : ''}`);
      });
      // the ids that name no token: the others were handled, and the command says so with its exit code
      if (missing.length > 0) throw missingTokensError(missing, connectionFor(command).db);
    });
}

function tokensIn(n: number, state: string): string {
  return `${n} token${n === 1 ? '' : 's'} (${state})`;
}

/**
 * `picas delete --state todo|locked|done|error`, streamed: the count (for the question) from the
 * `picas/state_counts` view and the dependency check from the dependency graph come first; then each page
 * of the state's view is deleted (one `_bulk_docs`, fenced by each `_rev`) before the next is read. Only a
 * page is held in memory, whatever the number of tokens.
 */
async function deleteState(couch: Couch, state: TokenState, flags: DeleteFlags): Promise<void> {
  const { deletionPages, deleteTokens, dependentsInState } = await import('@picas/core/ops/delete-tokens');
  const { stateCounts } = await import('@picas/core/ops/status');
  const { OpProgress } = await import('../op-progress.js');
  const progress = new OpProgress(flags.dryRun ? 'reading' : 'deleting', undefined);
  const total = (await stateCounts(couch, { onProgress: progress.onIndexBuild }))[state];
  progress.setTotal(total);
  if (total === 0) {
    say('nothing to delete');
    return;
  }
  const dependents = await dependentsInState(couch, state);
  if (dependents.size > 0 && !flags.force) {
    const [first, ids] = [...dependents][0]!;
    const more = dependents.size > 1 ? ` (and ${dependents.size - 1} more depended-on token${dependents.size > 2 ? 's' : ''})` : '';
    throw new UsageError(`token ${first} has ${ids.length} waiting token${ids.length === 1 ? '' : 's'} depending on it (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''})${more}: use --force to delete it and block them; nothing was deleted`);
  }
  if (!flags.dryRun) {
    if (state === 'locked') note(`picas: ${total} of them are locked: the pilots running them will lose them`);
    if (!flags.yes) {
      if (process.stdin.isTTY !== true) {
        throw new UsageError(`refusing to delete ${tokensIn(total, state)} without --yes (stdin is not a terminal); nothing was deleted`);
      }
      if (!(await confirm(`delete ${tokensIn(total, state)} from ${describeConnection(couch.config)}?`))) {
        say('nothing was deleted');
        return;
      }
    }
  }
  const { blockDependentsOfDeleted } = await import('../delete-dependents.js');
  let seen = 0;
  let deleted = 0;
  let skipped = 0;
  let blocked = 0;
  try {
    for await (const page of deletionPages(couch, state, { onProgress: progress.onIndexBuild })) {
      progress.clear();
      seen += page.length;
      if (flags.dryRun) {
        for (const t of page) say(`would delete ${t.id} (${t.state})`);
        progress.update(seen);
        continue;
      }
      const outcome = await deleteTokens(couch, page);
      for (const { id, reason } of outcome.skipped) say(`skipped ${id}: ${reason}`);
      deleted += outcome.deleted.length;
      skipped += outcome.skipped.length;
      blocked += (await blockDependentsOfDeleted(couch, outcome.deleted.filter((id) => dependents.has(id)))).length;
      progress.update(seen, `${deleted} deleted, ${skipped} skipped`);
    }
  } finally {
    progress.finish();
  }
  if (flags.dryRun) {
    say(seen === 0 ? 'nothing to delete' : `dry run: would delete ${tokensIn(seen, state)}; nothing was deleted`);
    return;
  }
  if (blocked > 0) say(`blocked ${blocked} waiting token${blocked === 1 ? '' : 's'} that depended on deleted tokens`);
  say(`deleted ${deleted} token${deleted === 1 ? '' : 's'}${skipped ? `; skipped ${skipped}` : ''}`);
}
