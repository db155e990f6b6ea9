/**
 * Which picas-worker a submitted pilot runs, decided once for the Slurm and FirecREST launchers: the
 * self-contained bundle staged into a directory the pilots see (worker-bundle.ts), or a worker command
 * (worker-command.ts). Then the pilot's environment with it (pilot-env.ts).
 */
import { UsageError, type ConnectionConfig } from '@picas/core';
import { pilotEnvironment, type PilotEnvironment } from './pilot-env.js';
import { nodeCommandProblem, readWorkerBundle, type WorkerBundle } from './worker-bundle.js';
import { resolveWorkerCommand, type WorkerCommand } from './worker-command.js';
import type { WorkerValues } from './worker-option-flags.js';

export interface PilotWorkerChoice {
  /** stage the bundle into this directory, an absolute path as the pilots see it; undefined = run a worker command */
  bundleDir?: string;
  /** an explicit worker command (`--worker-command`) */
  workerCommand?: string;
  /** the node that runs the staged bundle (`--node`) */
  node?: string;
  /** the pilots run elsewhere, where this installation's paths mean nothing: picas-worker from their PATH */
  preferPath?: boolean;
}

export interface PilotWorker {
  /** the bundle to stage, and where the pilots find it */
  bundle?: WorkerBundle;
  stagedPath?: string;
  /** the command the pilots start, when no bundle is staged */
  command?: WorkerCommand;
  node?: string;
}

/** The pilots' worker; each problem (a bad --node, an unbuilt bundle) is added to `problems`. */
export function choosePilotWorker(choice: PilotWorkerChoice, problems: string[]): PilotWorker {
  if (choice.bundleDir === undefined) {
    try {
      return { command: resolveWorkerCommand({ explicit: choice.workerCommand, preferPath: choice.preferPath }) };
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      problems.push(err.message);
      return {};
    }
  }
  const nodeProblem = nodeCommandProblem(choice.node);
  if (nodeProblem) problems.push(nodeProblem);
  let bundle: WorkerBundle | undefined;
  try {
    bundle = readWorkerBundle();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    problems.push(err.message);
  }
  return { bundle, stagedPath: bundle ? `${choice.bundleDir.replace(/\/+$/, '')}/${bundle.stagedName}` : undefined, node: choice.node };
}

/** The pilot's environment: CouchDB settings, worker options, and how to start the worker. */
export function pilotEnvironmentWith(connection: ConnectionConfig, workerValues: WorkerValues, worker: PilotWorker): PilotEnvironment {
  return pilotEnvironment(connection, workerValues, {
    // a worker from the pilots' PATH needs no PICAS_WORKER_CMD: the pilot script's default
    workerCommand: worker.command && worker.command.source !== 'path' ? worker.command.commandLine : undefined,
    workerBundle: worker.stagedPath,
    node: worker.bundle ? worker.node : undefined,
  });
}
