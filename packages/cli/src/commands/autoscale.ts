/**
 * `picas autoscale`: a controller that submits pilots as the work needs them (docs/autoscale.md), on
 * Slurm, through FirecREST, or as local processes, one line per cycle; and `picas autoscale
 * status|pause|resume` on its state document. The pilot options are those of `picas slurm submit`,
 * `picas firecrest submit` and `picas launch local`, from the same code.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { parseDuration, UsageError } from '@picas/core';
import { addWorkerOptionFlags } from '@picas/launch/worker-option-flags';
import { workerSettings } from '@picas/worker/options';
import { BACKEND_KINDS, buildBackend, type BackendKind, type BuiltBackend } from '../autoscale-backends.js';
import { connectionFor, note, printJson, say, withCouch } from '../context.js';
import { countOption, durationOption, positiveCountOption } from '../option-parsers.js';
import { formatTable } from '../table.js';
import { throwIfProblems } from '../usage-problems.js';
import { addFirecrestOptions } from './firecrest.js';
import { addLocalPilotOptions } from './launch.js';
import { addSlurmJobOptions } from './slurm.js';

const DEFAULT_BUDGET_MARGIN = String(workerSettings.find((s) => s.key === 'budgetMargin')?.default ?? '30s');

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`'${value}' is not a positive number of seconds`);
  return n;
}

export function register(program: Command): void {
  const autoscale = program
    .command('autoscale')
    .description('submit pilots as the work needs them, within caps (Slurm, FirecREST or local); one line per cycle')
    .argument('[sbatch-options...]', 'after --: more sbatch options for every pilot, e.g. -- --qos=short')
    .option('--backend <slurm|firecrest|local>', 'where pilots run')
    .option('--max-pilots <n>', 'pilots pending or running at most', positiveCountOption)
    .option('--walltime <HH:MM:SS>', 'each pilot\'s time limit; tokens expected to run longer are reported unschedulable')
    .option('--min-pilots <n>', 'pilots kept pending or running even without work', countOption, 0)
    .option('--max-pending <n>', 'pilots waiting in the queue at most (default: --max-pilots)', positiveCountOption)
    .option('--max-submit <n>', 'pilots submitted per cycle at most (default: --max-pilots)', positiveCountOption)
    .option('--interval <duration>', 'time between cycles', durationOption, 30_000)
    .option('--default-token-seconds <s>', 'run time assumed for tokens without expected_seconds until some have finished', positiveSeconds, 60)
    .option('--surplus-cycles <n>', 'cycles a surplus must last before pending pilots are cancelled', positiveCountOption, 3)
    .option('--once', 'one cycle, then exit (for cron)')
    .option('--dry-run', 'decide and print, submit and cancel nothing')
    .option('--until-empty', 'exit once no token waits and none of its pilots is pending or running (0; 1 when only unschedulable tokens are left; 6 when paused)')
    .option('--json', 'one JSON object per cycle instead of a line')
    .option('--firecrest-workdir <dir>', 'FirecREST: the jobs\' working directory on the cluster, absolute (env PICAS_FIRECREST_WORKDIR)');
  addSlurmJobOptions(autoscale);
  addLocalPilotOptions(autoscale);
  addFirecrestOptions(autoscale);
  addWorkerOptionFlags(autoscale);
  autoscale.addHelpText(
    'after',
    `
Examples:
  picas autoscale --backend slurm --max-pilots 20 --walltime 02:00:00 --partition thin -- --qos=short
  picas autoscale --backend local --max-pilots 4 --walltime 1:00:00 --until-empty
  picas autoscale --backend slurm --max-pilots 20 --walltime 02:00:00 --once     # from cron
  picas autoscale status | pause | resume

One controller per pool: a second one refuses while the first one's lease lives. See docs/autoscale.md.`,
  );
  autoscale.action(async (sbatchOptions: string[], opts: Record<string, unknown>, cmd: Command) => {
    await runAutoscale(sbatchOptions, opts, cmd);
  });

  autoscale
    .command('status')
    .description('the controller\'s state: lease, pause, failures, last cycle, and its pilots')
    .option('--json', 'the state document')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const { StateStore } = await import('@picas/autoscale/state-store');
      const { statusView } = await import('@picas/autoscale/status-view');
      const doc = await withCouch(cmd, (couch) => new StateStore(couch.http, '').read());
      if (opts.json) return printJson(doc ?? null);
      if (!doc) return say(`no autoscaler has run on pool ${connectionFor(cmd).db}`);
      const view = statusView(doc, Date.now() / 1000);
      for (const line of view.lines) say(line);
      say(view.pilotRows.length > 1 ? formatTable(view.pilotRows) : 'pilots: none');
    });

  autoscale
    .command('pause')
    .description('stop submitting (pending and running pilots stay); the controller keeps its cycles and says it is paused')
    .option('--reason <text>', 'why, shown by status and each cycle', 'paused by hand')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const { StateStore } = await import('@picas/autoscale/state-store');
      const { RESUME_HINT } = await import('@picas/autoscale/failure-accounting');
      const nowS = Date.now() / 1000;
      const doc = await withCouch(cmd, (couch) => new StateStore(couch.http, '').update((d) => ({ ...d, paused: { reason: String(opts.reason), at: nowS, resume: RESUME_HINT } })));
      if (!doc) throw new UsageError(`no autoscaler has run on pool ${connectionFor(cmd).db}: nothing to pause`);
      note(`picas autoscale: paused (${String(opts.reason)}); resume with: ${RESUME_HINT}`);
    });

  autoscale
    .command('resume')
    .description('submit again: clears the pause and the failure counters and backoff')
    .action(async (_opts: Record<string, unknown>, cmd: Command) => {
      const { StateStore } = await import('@picas/autoscale/state-store');
      const { clearedFailures } = await import('@picas/autoscale/failure-accounting');
      const doc = await withCouch(cmd, (couch) =>
        new StateStore(couch.http, '').update((d) => {
          const { paused: _p, cap_lowered_to: _c, ...rest } = d;
          return { ...rest, failures: clearedFailures(d.failures) };
        }),
      );
      if (!doc) throw new UsageError(`no autoscaler has run on pool ${connectionFor(cmd).db}: nothing to resume`);
      note('picas autoscale: resumed');
    });
}

async function runAutoscale(sbatchOptions: string[], opts: Record<string, unknown>, cmd: Command): Promise<void> {
  const { collectWorkerValues } = await import('@picas/launch/worker-option-flags');
  const problems: string[] = [];
  const kind = opts.backend as BackendKind | undefined;
  if (!kind) problems.push(`--backend is required: ${BACKEND_KINDS.join(', ')}`);
  else if (!BACKEND_KINDS.includes(kind)) problems.push(`--backend: '${kind}' must be one of ${BACKEND_KINDS.join(', ')}`);
  const maxPilots = opts.maxPilots as number | undefined;
  if (maxPilots === undefined) problems.push('--max-pilots is required: how many pilots may be pending or running at once');
  const walltime = opts.walltime as string | undefined;
  let walltimeS = 0;
  if (walltime === undefined) problems.push('--walltime is required: each pilot\'s time limit, e.g. 01:00:00 (tokens that cannot fit it are never a reason to submit)');
  else {
    try {
      walltimeS = parseDuration(walltime) / 1000;
      if (walltimeS <= 0) problems.push(`--walltime: '${walltime}' must be longer than 0`);
    } catch (err) {
      problems.push(`--walltime: ${(err as Error).message}`);
    }
  }
  if (kind !== 'slurm' && kind !== 'firecrest' && sbatchOptions.length > 0) problems.push(`sbatch options after -- (${sbatchOptions.join(' ')}) apply to --backend slurm or firecrest only`);
  const minPilots = opts.minPilots as number;
  if (maxPilots !== undefined && minPilots > maxPilots) problems.push(`--min-pilots ${minPilots} is more than --max-pilots ${maxPilots}`);
  throwIfProblems(problems);

  const workerValues = collectWorkerValues(opts);
  // what a pilot cannot use of its walltime: the worker keeps its --budget-margin free at the end
  const margin = parseDuration(String(workerValues.budgetMargin ?? DEFAULT_BUDGET_MARGIN)) / 1000;
  if (margin >= walltimeS) throw new UsageError(`--walltime ${walltime}: a pilot keeps its last ${margin} s free (the worker's --budget-margin), so the walltime must be longer`);
  const connection = connectionFor(cmd);
  const { newOwnerId, StateStore } = await import('@picas/autoscale/state-store');
  const { runController } = await import('@picas/autoscale/controller');
  const { openCouch } = await import('@picas/core');
  const couch = openCouch(connection);
  const store = new StateStore(couch.http, newOwnerId());
  let built: BuiltBackend | undefined;
  const stop = new AbortController();
  let stopSignal: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stopSignal) note(`picas autoscale: ${sig}: stopping after this cycle's step; pilots keep running${kind === 'local' ? ' until they are stopped too' : ''}`);
    stopSignal ??= sig;
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // one controller per pool: refuse in one line, before any pilot is set up
    await store.refuseIfHeld(Date.now() / 1000);
    built = await buildBackend({
      kind: kind!,
      opts: kind === 'firecrest' ? { ...opts, workdir: opts.firecrestWorkdir } : opts,
      cmd,
      connection,
      workerValues,
      walltime: walltime!,
      walltimeS,
      maxPilots: maxPilots!,
      extraSbatch: sbatchOptions,
    });
    const end = await runController({
      couch,
      backend: built.backend,
      store,
      settings: {
        maxPilots: maxPilots!,
        minPilots,
        maxPending: (opts.maxPending as number | undefined) ?? maxPilots!,
        maxSubmit: (opts.maxSubmit as number | undefined) ?? maxPilots!,
        walltimeS,
        pilotMarginS: margin,
        largestShape: built.largestShape,
        defaultTokenSeconds: opts.defaultTokenSeconds as number,
        surplusCycles: opts.surplusCycles as number,
        intervalS: (opts.interval as number) / 1000,
      },
      once: !!opts.once,
      untilEmpty: !!opts.untilEmpty,
      dryRun: !!opts.dryRun,
      signal: stop.signal,
      onCycle: (report) => {
        if (opts.json) process.stdout.write(JSON.stringify({ ...report.state.last_decision, running: report.decision.running, pending: report.decision.pending, cap: report.decision.cap, paused: report.state.paused ?? null }) + '\n');
        else say(report.line);
      },
    });
    if (end.why === 'unschedulable-left') note('picas autoscale: only tokens that no pilot of this walltime and shape can run are left');
    if (end.why === 'paused') note('picas autoscale: paused, so --until-empty gives up');
    process.exitCode = stopSignal ? (stopSignal === 'SIGINT' ? 130 : 143) : end.exitCode;
  } catch (err) {
    if (stop.signal.aborted && (err as Error).name === 'AbortError') {
      process.exitCode = stopSignal === 'SIGINT' ? 130 : 143;
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await built?.backend.close();
    await couch.close();
  }
}
