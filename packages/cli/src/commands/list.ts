import { Option, type Command } from 'commander';
import type { TokenState } from '@picas/core';
import { note, withCouch } from '../context.js';
import { positiveCountOption, STATE_CHOICES } from '../option-parsers.js';
import { excerpt, formatTable } from '../table.js';

interface ListFlags {
  state?: TokenState;
  limit?: number;
  json?: boolean;
}

/** Rows are printed in chunks of this many (aligned within a chunk), never all at once. */
const CHUNK = 500;

export function register(program: Command): void {
  program
    .command('list')
    .description('list tokens (from the Monitor views), a page at a time')
    .addOption(new Option('--state <state>', 'only tokens in this state').choices(STATE_CHOICES))
    .option('--limit <n>', 'at most this many tokens', positiveCountOption)
    .option('--json', 'print the token documents as a JSON array (one document per line)')
    .addHelpText('after', `\nExamples:\n  picas list --state error\n  picas list --state done --limit 10 --json`)
    .action(async (flags: ListFlags, command: Command) => {
      const { listTokens } = await import('@picas/core/ops/list-tokens');
      await withCouch(command, async (couch) => {
        let count = 0;
        let chunk: string[][] = [];
        const flush = () => {
          if (chunk.length > 0) process.stdout.write(formatTable(chunk) + '\n');
          chunk = [];
        };
        if (flags.json) process.stdout.write('[');
        else chunk.push(['ID', 'STATE', 'SCRUB', 'HOST', 'INPUT']);
        for await (const { state, doc } of listTokens(couch, { state: flags.state, limit: flags.limit })) {
          if (flags.json) {
            process.stdout.write(`${count === 0 ? '\n' : ',\n'}${JSON.stringify(doc)}`);
          } else {
            chunk.push([doc._id, state, String(doc.scrub_count ?? 0), String(doc.hostname || '-'), excerpt(doc.input)]);
            if (chunk.length >= CHUNK) flush();
          }
          count++;
        }
        if (flags.json) process.stdout.write(count === 0 ? ']\n' : '\n]\n');
        else if (count > 0) flush();
        if (count === 0) note(`no ${flags.state ? `${flags.state} ` : ''}tokens`);
      });
    });
}
