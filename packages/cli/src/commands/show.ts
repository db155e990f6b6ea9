import type { Command } from 'commander';
import { printJson, withCouch } from '../context.js';
import { missingTokensError } from '../missing-tokens.js';

export function register(program: Command): void {
  program
    .command('show')
    .description('print a token document (attachments as stubs, not their contents; see picas logs)')
    .argument('<id>', 'token id')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const { readToken } = await import('@picas/core/ops/read-token');
      await withCouch(command, async (couch) => {
        const doc = await readToken(couch.http, id);
        if (!doc) throw missingTokensError([id], couch.config.db);
        printJson(doc);
      });
    });
}
