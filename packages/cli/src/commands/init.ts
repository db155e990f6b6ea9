import type { Command } from 'commander';
import { describeConnection } from '@picas/core';
import { say, withCouch } from '../context.js';

export function register(program: Command): void {
  program
    .command('init')
    .description('create the database if it is missing, and create or update its views (safe to run again)')
    .action(async (_options: unknown, command: Command) => {
      const { initDatabase } = await import('@picas/core/ops/init');
      await withCouch(command, async (couch) => {
        const result = await initDatabase(couch);
        if (!result.changed) {
          say(`nothing to do: database '${couch.config.db}' and its views are up to date (${describeConnection(couch.config)})`);
          return;
        }
        if (result.databaseCreated) say(`created database '${couch.config.db}' (${describeConnection(couch.config)})`);
        for (const design of result.designs) {
          const kept = design.kept.length ? `; kept other views: ${design.kept.join(', ')}` : '';
          if (design.action === 'created') say(`created ${design.id} (views: ${design.added.join(', ')})`);
          else if (design.action === 'updated') {
            const parts = [design.added.length ? `added ${design.added.join(', ')}` : '', design.fixed.length ? `fixed ${design.fixed.join(', ')}` : '', design.removed.length ? `removed ${design.removed.join(', ')} (moved to another design document)` : ''].filter(Boolean);
            say(`updated ${design.id}: ${parts.join('; ') || 'set language to javascript'}${kept}`);
          } else say(`${design.id} is up to date${kept}`);
        }
      });
    });
}
