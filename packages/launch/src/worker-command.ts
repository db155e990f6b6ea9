/**
 * How a pilot starts `picas-worker`, decided in one place for every launcher (local, Slurm, FirecREST).
 *
 * In order:
 *   1. an explicit command (`--worker-command`, or PICAS_WORKER_CMD in the launcher's environment);
 *   2. the worker that belongs to this installation: `node --max-semi-space-size=8 <...>/packages/worker/dist/src/bin.js`
 *      from this repository, or the picas-worker.mjs beside the bundle this code runs in (an npm install
 *      of picas, or the single files dist/picas.mjs and dist/picas-worker.mjs side by side); the node
 *      options are the pilot's, see @picas/worker's node-flags.ts;
 *   3. `picas-worker` from PATH.
 *
 * A pilot script receives the result as PICAS_WORKER_CMD (a command line that the script word-splits,
 * so its parts must not contain spaces); the local launcher runs `file` with `args` directly.
 */
import { existsSync } from 'node:fs';
import { UsageError } from '@picas/core';
import { bundled } from '@picas/core/build-stamp';
import { WORKER_NODE_FLAGS } from '@picas/worker/node-flags';
import { workerBundlePath } from './worker-bundle.js';

export interface WorkerCommand {
  /** the program to execute */
  file: string;
  /** arguments that come before the worker's own options */
  args: string[];
  /** the same as one command line, for PICAS_WORKER_CMD in a pilot script */
  commandLine: string;
  /** where it came from, for messages */
  source: 'option' | 'env' | 'installation' | 'path';
}

export interface WorkerCommandOptions {
  /** an explicit command line, e.g. from `--worker-command` */
  explicit?: string;
  /** the launcher's environment; PICAS_WORKER_CMD there is used when no explicit command is given */
  env?: Record<string, string | undefined>;
  /** the node binary for the installation's worker (default: the one running now) */
  nodePath?: string;
  /** skip step 2 and use PATH (e.g. for a remote system where this machine's paths mean nothing) */
  preferPath?: boolean;
}

/** The picas-worker entry point of this installation, if it has been built. */
export function installedWorkerBin(): string | undefined {
  if (bundled()) {
    const beside = workerBundlePath({});
    return existsSync(beside) ? beside : undefined;
  }
  let path: string;
  try {
    path = new URL(import.meta.resolve('@picas/worker/bin')).pathname;
  } catch {
    return undefined;
  }
  return existsSync(path) ? decodeURIComponent(path) : undefined;
}

export function resolveWorkerCommand(options: WorkerCommandOptions = {}): WorkerCommand {
  const env = options.env ?? process.env;
  if (options.explicit !== undefined && options.explicit.trim() !== '') return fromCommandLine(options.explicit, 'option', '--worker-command');
  if (env.PICAS_WORKER_CMD && env.PICAS_WORKER_CMD.trim() !== '') return fromCommandLine(env.PICAS_WORKER_CMD, 'env', 'PICAS_WORKER_CMD');
  if (!options.preferPath) {
    const bin = installedWorkerBin();
    if (bin) {
      const node = options.nodePath ?? process.execPath;
      const args = [...WORKER_NODE_FLAGS, bin];
      return { file: node, args, commandLine: joinCommandLine([node, ...args], 'the installed picas-worker path'), source: 'installation' };
    }
  }
  return { file: 'picas-worker', args: [], commandLine: 'picas-worker', source: 'path' };
}

function fromCommandLine(text: string, source: WorkerCommand['source'], name: string): WorkerCommand {
  const parts = text.trim().split(/\s+/);
  for (const part of parts) {
    if (/["'\\$`;&|<>(){}]/.test(part)) {
      throw new UsageError(`${name}: '${text}' must be a plain command and arguments separated by spaces (no quotes or shell syntax)`);
    }
  }
  return { file: parts[0]!, args: parts.slice(1), commandLine: parts.join(' '), source };
}

function joinCommandLine(parts: string[], what: string): string {
  for (const part of parts) {
    if (/\s/.test(part)) throw new UsageError(`${what} '${part}' contains a space; set PICAS_WORKER_CMD (or --worker-command) to a path without spaces`);
  }
  return parts.join(' ');
}
