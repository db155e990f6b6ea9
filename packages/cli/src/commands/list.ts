import { Option, type Command } from 'commander';
import type { AnyTokenState } from '@picas/core';
import type { ListedToken } from '@picas/core/ops/list-tokens';
import { note, withCouch } from '../context.js';
import { positiveCountOption, STATE_CHOICES } from '../option-parsers.js';
import { watchStdoutClosed } from '../stdout-closed.js';
import { excerpt, formatTable } from '../table.js';

interface ListFlags {
  state?: AnyTokenState;
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
      const { OpProgress } = await import('../op-progress.js');
      // only an index build is reported (on stderr, as by picas status): the rows themselves go to stdout as they come
      const progress = new OpProgress('listing', undefined);
      const stdout = watchStdoutClosed();
      try {
        await withCouch(command, async (couch) => {
          const tokens = listTokens(couch, { state: flags.state, limit: flags.limit, signal: stdout.signal, onProgress: progress.onIndexBuild });
          const count = flags.json ? await printJson(tokens, stdout.signal) : await printTable(tokens, stdout.signal);
          if (count === 0) note(`no ${flags.state ? `${flags.state} ` : ''}tokens`);
        });
      } catch (err) {
        if (!stdout.signal.aborted) throw err; // else the reader went away (picas list | head): stop quietly
      } finally {
        stdout.dispose();
      }
    });
}

async function printJson(tokens: AsyncIterable<ListedToken>, closed: AbortSignal): Promise<number> {
  let count = 0;
  process.stdout.write('[');
  for await (const { doc } of tokens) {
    process.stdout.write(`${count === 0 ? '\n' : ',\n'}${JSON.stringify(doc)}`);
    count++;
    if (closed.aborted) return count;
  }
  process.stdout.write(count === 0 ? ']\n' : '\n]\n');
  return count;
}

async function printTable(tokens: AsyncIterable<ListedToken>, closed: AbortSignal): Promise<number> {
  let count = 0;
  let chunk: string[][] = [['ID', 'STATE', 'EXIT', 'SCRUB', 'HOST', 'INPUT']];
  const flush = () => {
    if (count > 0) process.stdout.write(formatTable(chunk) + '\n');
    chunk = [];
  };
  for await (const { state, doc } of tokens) {
    chunk.push([doc._id, state, exitCodeCell(doc.exit_code), String(doc.scrub_count ?? 0), String(doc.hostname || '-'), excerpt(doc.input)]);
    count++;
    if (chunk.length >= CHUNK) flush();
    if (closed.aborted) return count;
  }
  flush();
  return count;
}

/** A finished token's exit code; `-` before it has one (PiCaS writes `''` until then). */
function exitCodeCell(exitCode: unknown): string {
  return exitCode === undefined || exitCode === null || exitCode === '' ? '-' : String(exitCode);
}
