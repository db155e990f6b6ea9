/**
 * `picas pilots`: the pilot records (one document per pilot, written by picas-worker), with the state a
 * reader shows: running, lost (a running pilot that missed its renewals: pilotLostAt), finished, stopped
 * (by a signal) or failed.
 */
import type { Command } from 'commander';
import { pilotJobIds, PILOT_STATES, UsageError, type PilotState } from '@picas/core';
import type { PilotRow } from '@picas/core/ops/list-pilots';
import { collect } from '../option-parsers.js';
import { note, printJson, say, withCouch } from '../context.js';
import { formatTable } from '../table.js';

interface PilotsFlags {
  json?: boolean;
  state?: string[];
}

export function register(program: Command): void {
  program
    .command('pilots')
    .description('the pilots that worked on this database (their records): host, job ids, heartbeat, counts, state')
    .option('--state <state>', `only pilots in this state (${PILOT_STATES.join(', ')}); repeat or comma-separate for several`, collect)
    .option('--json', 'print the pilot records as JSON (with `shown`: the state including lost)')
    .addHelpText('after', `\nA running pilot that missed two renewals of its record (every third of its lease) is shown as lost;\npicas reset --lost frees its tokens.\n\nExamples:\n  picas pilots\n  picas pilots --state running,lost\n  picas pilots --json`)
    .action(async (flags: PilotsFlags, command: Command) => {
      const states = parseStates(flags.state ?? []);
      const { listPilots } = await import('@picas/core/ops/list-pilots');
      await withCouch(command, async (couch) => {
        const pilots = await listPilots(couch, { states });
        if (flags.json) {
          printJson(pilots);
          return;
        }
        if (pilots.length === 0) {
          note(`no ${states.length ? `${states.join('/')} ` : ''}pilots recorded in ${couch.config.db}`);
          return;
        }
        say(pilotsTable(pilots));
      });
    });
}

function parseStates(values: string[]): PilotState[] {
  const states = values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const s of states) {
    if (!(PILOT_STATES as readonly string[]).includes(s)) {
      throw new UsageError(`--state: '${s}' is not a pilot state (one of: ${PILOT_STATES.join(', ')})`);
    }
  }
  return states as PilotState[];
}

export function pilotsTable(pilots: readonly PilotRow[], nowMs = Date.now()): string {
  const rows = [['PILOT', 'STATE', 'HOST', 'JOB', 'SLOTS', 'DONE', 'FAILED', 'REQUEUED', 'STARTED', 'HEARTBEAT', 'STOP REASON']];
  for (const p of pilots) {
    rows.push([
      p.pilot_id,
      p.shown,
      p.hostname,
      pilotJobIds(p) || '-',
      String(p.slots),
      String(p.counts?.done ?? 0),
      String(p.counts?.failed ?? 0),
      String(p.counts?.requeued ?? 0),
      new Date(p.started * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
      `${ago(p.heartbeat, nowMs)} ago`,
      p.stop_reason ?? '',
    ]);
  }
  return formatTable(rows, { alignRight: [4, 5, 6, 7] });
}

function ago(epochSeconds: number, nowMs: number): string {
  const s = Math.max(0, Math.round(nowMs / 1000 - epochSeconds));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}
