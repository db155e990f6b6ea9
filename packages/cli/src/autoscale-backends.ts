/**
 * The backends `picas autoscale` drives, built from the same options (and the same code) as
 * `picas slurm submit`, `picas firecrest submit` and `picas launch local`. Every pilot is a job named
 * after the pool (`picas-<db>`): only those are counted. Each backend also says the largest pilot shape
 * its options allow, which the decision uses to tell unschedulable tokens apart.
 */
import type { Command } from 'commander';
import { parseSize, UsageError, type ConnectionConfig, type Resources } from '@picas/core';
import type { AutoscaleBackend } from '@picas/autoscale/autoscale-backend';
import type { WorkerValues } from '@picas/launch/worker-option-flags';
import { note } from './context.js';
import { checkedLocalPilots, localPilotSettingsFrom } from './commands/launch.js';
import { slurmJobFrom } from './commands/slurm.js';
import { firecrestJobFrom } from './commands/firecrest.js';
import { throwIfProblems } from './usage-problems.js';

export type BackendKind = 'slurm' | 'firecrest' | 'local';
export const BACKEND_KINDS: readonly BackendKind[] = ['slurm', 'firecrest', 'local'];

export interface BuiltBackend {
  backend: AutoscaleBackend;
  largestShape: Resources;
}

export interface BackendRequest {
  kind: BackendKind;
  opts: Record<string, unknown>;
  cmd: Command;
  connection: ConnectionConfig;
  workerValues: WorkerValues;
  /** the pilots' time limit, as given (HH:MM:SS) and in seconds */
  walltime: string;
  walltimeS: number;
  maxPilots: number;
  /** what follows `--`: more sbatch options */
  extraSbatch: readonly string[];
}

/** `picas-<db>`, with anything a job name should not hold made `_`. */
export function poolJobName(db: string): string {
  return `picas-${db.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export async function buildBackend(r: BackendRequest): Promise<BuiltBackend> {
  const { autoscaleBackend } = await import('@picas/autoscale/autoscale-backend');
  const jobName = poolJobName(r.connection.db);
  if (r.kind === 'local') {
    const { LocalBackend } = await import('@picas/launch/local-backend');
    const { withMachineShare } = await import('@picas/launch/machine-share');
    const problems: string[] = [];
    const settings = localPilotSettingsFrom(r.opts, r.cmd, problems);
    throwIfProblems(problems);
    // each pilot its share of the machine, and the walltime as its time budget and hard limit
    const values = withMachineShare({ timeBudget: `${r.walltimeS}s`, maxTime: `${r.walltimeS}s`, ...r.workerValues }, r.maxPilots);
    const { worker, pilot } = await checkedLocalPilots(settings, r.connection, values, 'picas autoscale');
    const local = new LocalBackend({ worker, pilot: { ...pilot, env: { ...pilot.env, PICAS_LAUNCHER: 'local' } }, stopGraceMs: settings.stopGraceMs, logFormat: settings.logFormat });
    const launches: Array<Promise<unknown>> = [];
    const backend = autoscaleBackend({
      pilots: local,
      submitterFor: () => ({
        kind: 'local',
        list: (req) => local.list(req),
        cancel: (req) => local.cancel(req),
        // not the controller's signal: close() stops them, once (a second SIGTERM makes a worker drop its tokens)
        submit: async (req) => {
          const submitted = await local.submit({ count: req.count });
          launches.push(submitted.launch.done);
          return submitted;
        },
      }),
      // local pilots are this process's children: they stop with it (their tokens go back to todo)
      close: async () => {
        await local.cancel({ jobIds: [] });
        await Promise.allSettled(launches);
      },
    });
    return { backend, largestShape: { cpus: Number(values.cpus) || 1, gpus: countOf(values.gpus as string | undefined), mem: parseSize(values.mem) ?? 0 } };
  }
  if (r.kind === 'slurm') {
    const { SlurmBackend } = await import('@picas/launch/slurm-backend');
    const { submission, backendSettings } = await slurmJobFrom(r.opts, r.connection, r.workerValues, { jobName, time: r.walltime, extraDirectives: r.extraSbatch });
    const largestShape = largestOf(submission.script);
    const lister = new SlurmBackend({ jobName });
    // validates every option before anything is submitted
    new SlurmBackend(backendSettings).plan();
    const backend = autoscaleBackend({
      pilots: lister,
      submitterFor: (shape) => new SlurmBackend({ ...backendSettings, submission: { ...submission, script: { ...submission.script, ...shapedScript(submission.script, shape, largestShape) } } }),
    });
    return { backend, largestShape };
  }
  const built = await firecrestJobFrom(r.opts, r.cmd, { jobName, time: r.walltime, extraDirectives: r.extraSbatch, workerValues: r.workerValues });
  const largestShape = largestOf(built.submission.script);
  const backend = autoscaleBackend({
    pilots: built.open(built.submission),
    submitterFor: (shape) => built.open({ ...built.submission, script: { ...built.submission.script, ...shapedScript(built.submission.script, shape, largestShape) } }),
    close: () => built.close(),
  });
  note(`picas autoscale: FirecREST pilots are remembered in ${built.stateFile}`);
  return { backend, largestShape };
}

interface ShapeOptions {
  cpusPerTask?: number;
  gpus?: string;
  mem?: string;
}

/** The largest pilot the options allow: --cpus-per-task, the count of --gpus, --mem (a plain number is MB, as Slurm reads it). */
function largestOf(script: ShapeOptions): Resources {
  const mem = script.mem === undefined ? 0 : /^\d+$/.test(script.mem) ? Number(script.mem) * 1024 ** 2 : (parseSize(script.mem) ?? 0);
  return { cpus: script.cpusPerTask ?? 1, gpus: countOf(script.gpus), mem };
}

/** The script options for a pilot of `shape`: GPUs only when what waits asks for them, the cores and memory of the largest. */
function shapedScript(script: ShapeOptions, shape: Resources, largest: Resources): ShapeOptions {
  const type = script.gpus?.includes(':') ? `${script.gpus.split(':')[0]}:` : '';
  return { cpusPerTask: script.cpusPerTask, gpus: shape.gpus === 0 ? undefined : shape.gpus === largest.gpus ? script.gpus : `${type}${shape.gpus}`, mem: script.mem };
}

function countOf(gpus: string | undefined): number {
  if (!gpus) return 0;
  // the worker's --gpus may list indices (0,1)
  if (gpus.includes(',')) return gpus.split(',').filter(Boolean).length;
  const n = Number(gpus.split(':').pop());
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--gpus: '${gpus}' must be a number of GPUs, or type:number`);
  return n;
}
