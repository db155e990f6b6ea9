/**
 * `picas launch local -n N [worker options]`: start N picas-worker processes on this machine, stream
 * their output, wait for them. Ctrl-C (or SIGTERM) stops them cleanly: their running tokens go back to todo.
 */
import type { Command } from 'commander';
import { parseDuration, type ConnectionConfig, type LogFormat } from '@picas/core';
import type { PilotEnvironment } from '@picas/launch/pilot-env';
import type { WorkerCommand } from '@picas/launch/worker-command';
// the option table is small and needed to register the flags; the launcher itself is imported by the action
import { addWorkerOptionFlags, type WorkerValues } from '@picas/launch/worker-option-flags';
import { connectionFor, note } from '../context.js';
import { logFormatOf } from '../log-format-option.js';
import { throwIfProblems } from '../usage-problems.js';

export function register(program: Command): void {
  const launch = program.command('launch').description('start pilots (picas-worker processes); see also `picas slurm` and `picas firecrest`');
  const local = launch
    .command('local')
    .description('start N picas-worker processes on this machine, stream their output and wait for them')
    .option('-n, --count <n>', 'number of workers', '1');
  addLocalPilotOptions(local);
  // every picas-worker option, from the worker's own table
  addWorkerOptionFlags(local);
  local.addHelpText(
    'after',
    `\nExamples:\n  picas launch local -n 4\n  picas launch local -n 2 --slots 2 --lease 2m --token-timeout 1h\n\nCtrl-C stops all workers; their running tokens go back to todo. Press it again to make them exit at once.`,
  );
  local.action(async (opts: Record<string, unknown>, cmd: Command) => {
    const { collectWorkerValues } = await import('@picas/launch/worker-option-flags');
    const { withMachineShare } = await import('@picas/launch/machine-share');
    const { LocalBackend } = await import('@picas/launch/local-backend');
    const { describeWorkerExit } = await import('@picas/launch/local-launcher');
    const count = Number(opts.count);
    const problems: string[] = [];
    if (!Number.isInteger(count) || count < 1) problems.push(`-n/--count: '${String(opts.count)}' must be a whole number of at least 1`);
    const settings = localPilotSettingsFrom(opts, cmd, problems);
    throwIfProblems(problems);
    const connection = connectionFor(cmd);
    const { worker, pilot } = await checkedLocalPilots(settings, connection, withMachineShare(collectWorkerValues(opts), count), 'picas launch');

    note(`picas launch: starting ${count} worker${count === 1 ? '' : 's'} (${worker.commandLine}) on ${connection.db}`);
    const backend = new LocalBackend({ worker, pilot, stopGraceMs: settings.stopGraceMs, logFormat: settings.logFormat });
    const { launch: run } = await backend.submit({ count });
    let stopSignal: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
      if (!stopSignal) {
        stopSignal = sig;
        note(`picas launch: ${sig}: stopping the workers; their running tokens go back to todo (again to make them exit at once)`);
      } else {
        note(`picas launch: ${sig} again: telling the workers to exit at once`);
      }
      run.stop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let result;
    try {
      result = await run.done;
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    const ok = result.workers.length - result.failed.length;
    if (result.failed.length === 0) {
      note(`picas launch: ${count} worker${count === 1 ? '' : 's'} finished${stopSignal ? ` after ${stopSignal}` : ''}, all ok`);
    } else {
      note(`picas launch: ${result.failed.length} of ${count} workers failed (${result.failed.map(describeWorkerExit).join(', ')}); ${ok} ok`);
    }
    if (stopSignal) {
      // the shell convention for "stopped by a signal": 128 + its number
      process.exitCode = stopSignal === 'SIGINT' ? 130 : 143;
    } else if (result.failed.length > 0) {
      const first = result.failed.find((w) => w.exitCode !== undefined && w.exitCode > 0 && w.exitCode < 126);
      process.exitCode = first?.exitCode ?? 1;
    }
  });
}

/**
 * The options of local pilots, shared by `picas launch local` and `picas autoscale --backend local`
 * (where the Slurm options define --worker-command already, with the same meaning).
 */
export function addLocalPilotOptions(command: Command): Command {
  if (!command.options.some((o) => o.long === '--worker-command')) {
    command.option('--worker-command <cmd>', 'how to start a worker (env PICAS_WORKER_CMD; default: this installation\'s picas-worker, else picas-worker from PATH)');
  }
  return command
    .option('--log-format <json|text>', 'the workers\' log lines: as JSON, or short text lines (env PICAS_LOG_FORMAT; default: text on a terminal, else json)')
    .option('--stop-grace <duration>', 'after Ctrl-C or SIGTERM: how long the workers get to put their tokens back before SIGKILL', '60s');
}

export interface LocalPilotSettings {
  workerCommand?: string;
  stopGraceMs: number;
  logFormat: LogFormat;
}

/** The options of addLocalPilotOptions, checked; problems are added to `problems`. */
export function localPilotSettingsFrom(opts: Record<string, unknown>, cmd: Command, problems: string[]): LocalPilotSettings {
  let stopGraceMs = 0;
  try {
    stopGraceMs = parseDuration(String(opts.stopGrace));
  } catch (err) {
    problems.push(`--stop-grace: ${(err as Error).message}`);
  }
  let logFormat: LogFormat = 'json';
  try {
    logFormat = logFormatOf(cmd);
  } catch (err) {
    problems.push((err as Error).message);
  }
  return { workerCommand: opts.workerCommand as string | undefined, stopGraceMs, logFormat };
}

/** The worker command and the pilots' environment, after checking once, clearly, that the database opens. */
export async function checkedLocalPilots(settings: LocalPilotSettings, connection: ConnectionConfig, workerValues: WorkerValues, launcher: string): Promise<{ worker: WorkerCommand; pilot: PilotEnvironment }> {
  const { resolveWorkerCommand } = await import('@picas/launch/worker-command');
  const { pilotEnvironment } = await import('@picas/launch/pilot-env');
  const { checkDatabaseOpens, warnAboutPilotConnection } = await import('@picas/launch/pre-submit-checks');
  const worker = resolveWorkerCommand({ explicit: settings.workerCommand });
  // fail once, clearly, instead of N times: the database must exist and accept our login
  await checkDatabaseOpens(connection);
  const pilot = pilotEnvironment(connection, workerValues);
  await warnAboutPilotConnection({ connection, launcher, note });
  return { worker, pilot };
}
