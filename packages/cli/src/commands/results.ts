import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ResultRow, ResultState } from '@picas/core/ops/sweep-results';
import { note, withCouch } from '../context.js';
import { csvLine } from '../csv-line.js';
import { watchStdoutClosed } from '../stdout-closed.js';
import { formatTable } from '../table.js';

type ResultFormat = 'csv' | 'jsonl' | 'table';

interface ResultsFlags {
  param?: string[];
  state: ResultState;
  format: ResultFormat;
  extract?: RegExp;
}

/** Table rows are printed in chunks of this many (aligned within a chunk), never all at once. */
const CHUNK = 500;

export function register(program: Command): void {
  program
    .command('results')
    .description("a sweep's results: one row per token with its parameters, state, exit code, run time, host, attempts and (--extract) a value from its stdout; streamed a page at a time (docs/sweeps.md)")
    .option('--param <names>', 'parameter columns, comma-separated (default: the first token\'s parameters)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .addOption(new Option('--state <state>', 'which tokens').choices(['done', 'error', 'all']).default('all'))
    .addOption(new Option('--format <format>', 'csv (RFC 4180), jsonl (one object a line), or an aligned table').choices(['csv', 'jsonl', 'table']).default('table'))
    .option('--extract <regex>', "a regular expression over the token's stdout log (logs_<id>.out); its first capture group is the value column", regexOption)
    .addHelpText('after', `\nExamples:\n  picas results --format csv > results.csv\n  picas results --param q,d --state done --extract 'energy = (\\S+)'`)
    .action(async (flags: ResultsFlags, command: Command) => {
      const { resultRows } = await import('@picas/core/ops/sweep-results');
      const stdout = watchStdoutClosed();
      try {
        await withCouch(command, async (couch) => {
          const rows = resultRows(couch, { state: flags.state, extract: flags.extract, signal: stdout.signal });
          const count = await printRows(rows, flags, stdout.signal);
          if (count === 0) note(`no ${flags.state === 'all' ? '' : `${flags.state} `}tokens`);
        });
      } catch (err) {
        if (!stdout.signal.aborted) throw err; // the reader went away (picas results | head)
      } finally {
        stdout.dispose();
      }
    });
}

function regexOption(value: string): RegExp {
  try {
    return new RegExp(value, 'm');
  } catch (err) {
    throw new InvalidArgumentError(`'${value}' is not a regular expression: ${(err as Error).message}`);
  }
}

async function printRows(rows: AsyncIterable<ResultRow>, flags: ResultsFlags, closed: AbortSignal): Promise<number> {
  let count = 0;
  let names = flags.param;
  let chunk: string[][] = [];
  const extract = flags.extract !== undefined;
  const flush = () => {
    if (chunk.length > 0) process.stdout.write(formatTable(chunk) + '\n');
    chunk = [];
  };
  for await (const row of rows) {
    if (flags.format === 'jsonl') {
      const params = names ? Object.fromEntries(names.map((n) => [n, row.params[n] ?? null])) : row.params;
      process.stdout.write(JSON.stringify({ ...row, params }) + '\n');
    } else {
      // the columns are fixed by the first token: streamed rows cannot widen the header afterwards
      if (!names) names = Object.keys(row.params);
      if (count === 0) {
        const header = ['id', ...names, 'state', 'exit_code', 'run_seconds', 'host', 'attempts', ...(extract ? ['value'] : [])];
        if (flags.format === 'csv') process.stdout.write(csvLine(header));
        else chunk.push(header.map((h) => h.toUpperCase()));
      }
      const cells = [row.id, ...names.map((n) => row.params[n] ?? ''), row.state, String(row.exit_code ?? ''), row.run_seconds === null ? '' : String(row.run_seconds), row.host, String(row.attempts), ...(extract ? [row.value ?? ''] : [])];
      if (flags.format === 'csv') process.stdout.write(csvLine(cells));
      else {
        chunk.push(flags.format === 'table' ? cells.map((c) => (c === '' ? '-' : c)) : cells);
        if (chunk.length >= CHUNK) flush();
      }
    }
    count++;
    if (closed.aborted) return count;
  }
  flush();
  return count;
}
