import type { Command } from 'commander';
import { describeConnection, sleep, UsageError, type Couch, type ConnectionConfig } from '@picas/core';
import type { SplitTokenCounts } from '@picas/core/ops/locked-split';
import type { TokenCounts } from '@picas/core/ops/status';
import type { ShapeTally } from '@picas/core/ops/todo-shapes';
import { printJson, say, withCouch } from '../context.js';
import { durationOption } from '../option-parsers.js';
import { renderBar } from '../progress-bar.js';
import { formatTable } from '../table.js';

/** The counts, with locked split into running and claimed ahead by the live pilots' records (null: not reported). */
type StatusCounts = SplitTokenCounts;

interface StatusFlags {
  json?: boolean;
  watch?: true | number;
  by?: string;
}

const DEFAULT_WATCH_MS = 5000;

export function register(program: Command): void {
  program
    .command('status')
    .description('token counts: todo, locked (split into running and claimed ahead, from the live pilots\' records), done, error, total (from the picas/state_counts view), waiting and blocked (docs/dag.md), and conflicts')
    .option('--json', 'print the counts as JSON')
    .option('--watch [interval]', 'redraw every interval until nothing is todo or locked (default: 5s)', durationOption)
    .option('--by <param>', "counts per value of a sweep parameter (the tokens' params field; docs/sweeps.md)")
    .addHelpText('after', `\nExamples:\n  picas status\n  picas status --json\n  picas status --watch 2s\n  picas status --by q`)
    .action(async (flags: StatusFlags, command: Command) => {
      if (flags.by !== undefined) {
        const { printStatusBy } = await import('../status-by.js');
        if (flags.watch !== undefined) throw new UsageError('--by and --watch: give one');
        await withCouch(command, (couch) => printStatusBy(couch, flags.by!, !!flags.json));
        return;
      }
      const { tokenStatus } = await import('@picas/core/ops/status');
      const { describeBuilds } = await import('@picas/core/ops/view-progress');
      const { withLockedSplit } = await import('@picas/core/ops/locked-split');
      const onProgress = (builds: Parameters<typeof describeBuilds>[0]) => process.stderr.write(`${describeBuilds(builds)}\n`);
      const intervalMs = flags.watch === undefined ? undefined : flags.watch === true ? DEFAULT_WATCH_MS : Math.max(100, flags.watch);
      await withCouch(command, async (couch) => {
        if (intervalMs === undefined) {
          const counts = await withLockedSplit(couch, await tokenStatus(couch, { onProgress }));
          if (flags.json) printJson({ database: couch.config.db, ...counts });
          else say(statusTable(counts, couch.config));
          return;
        }
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const tty = process.stdout.isTTY === true && !flags.json;
        try {
          for (;;) {
            const counts = await withLockedSplit(couch, await tokenStatus(couch, { signal: stop.signal, onProgress }), stop.signal);
            const finished = counts.todo === 0 && counts.locked === 0 && counts.waiting === 0;
            if (flags.json) process.stdout.write(JSON.stringify({ time: new Date().toISOString(), database: couch.config.db, ...counts }) + '\n');
            else if (tty) process.stdout.write(`\x1b[H\x1b[2J${statusTable(counts, couch.config)}\n${progressLine(counts)}\n${finished ? '' : `(every ${intervalMs / 1000}s; Ctrl-C to stop)\n`}`);
            else say(`${new Date().toISOString()}  ${oneLine(counts)}  ${progressLine(counts)}`);
            if (finished || stop.signal.aborted) return;
            await sleep(intervalMs, stop.signal);
            if (stop.signal.aborted) return;
          }
        } catch (err) {
          if (stop.signal.aborted) return; // Ctrl-C during a request
          throw err;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}

function lockedRows(counts: StatusCounts): string[][] {
  if (counts.running === null || counts.claimed_ahead === null || counts.locked === 0) return [];
  return [
    ['  running', String(counts.running)],
    ['  claimed ahead', String(counts.claimed_ahead)],
  ];
}

export function statusTable(counts: StatusCounts, config: ConnectionConfig): string {
  const conflicts = counts.conflicts === null ? '? (run picas init to count them)' : String(counts.conflicts);
  const rows: string[][] = [
    ['todo', String(counts.todo)],
    ['locked', String(counts.locked)],
    ...lockedRows(counts),
    ['done', String(counts.done)],
    ['error', String(counts.error)],
    ...(counts.waiting + counts.blocked > 0 ? [['waiting', String(counts.waiting)], ['blocked', String(counts.blocked)]] : []),
    ['total', String(counts.total)],
    ['conflicts', conflicts],
  ];
  const table = formatTable(rows, { alignRight: counts.conflicts === null ? [] : [1] })
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
  const shapes = counts.todo_by_shape ? `\n  todo by shape: ${shapesLine(counts.todo_by_shape)}` : '';
  return `${describeConnection(config)}\n${table}${shapes}`;
}

/** `1 cpu: 4,000 · 8 cpu + 1 gpu: 12` */
export function shapesLine(shapes: readonly ShapeTally[]): string {
  return shapes.map((s) => `${s.shape}: ${s.todo.toLocaleString('en-US')}`).join(' · ');
}

function oneLine(counts: StatusCounts): string {
  const deps = counts.waiting + counts.blocked > 0 ? `  waiting ${counts.waiting}  blocked ${counts.blocked}` : '';
  const split = lockedRows(counts).length > 0 ? ` (running ${counts.running}, claimed ahead ${counts.claimed_ahead})` : '';
  const shapes = counts.todo_by_shape ? ` (${shapesLine(counts.todo_by_shape)})` : '';
  return `todo ${counts.todo}${shapes}  locked ${counts.locked}${split}  done ${counts.done}  error ${counts.error}${deps}  total ${counts.total}`;
}

function progressLine(counts: TokenCounts): string {
  return `${renderBar(counts.done + counts.error, counts.total)} finished (done + error)`;
}
