/**
 * The self-contained picas-worker (one ES module with every dependency, `npm run bundle` →
 * dist/picas-worker.mjs) that the launchers stage to a cluster where nothing is installed:
 * `picas firecrest submit` uploads it to the jobs' working directory, `picas slurm submit --stage DIR`
 * copies it to a shared directory. A pilot script runs it as `$PICAS_NODE <node flags> $PICAS_WORKER_BUNDLE`.
 *
 * The staged copy is named by its content, `picas-worker-<first 8 hex digits of sha256>.mjs`, so a copy that
 * is already there (same name) is the same file and is not sent again, and pilots of an older submit keep
 * their own file.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '@picas/core';
import { bundled } from '@picas/core/build-stamp';

export interface WorkerBundle {
  /** where it is on this machine */
  path: string;
  bytes: Buffer;
  /** sha256 of the content, hex */
  sha256: string;
  /** the name of a staged copy: picas-worker-<sha8>.mjs */
  stagedName: string;
}

/**
 * Where this installation's bundle is: PICAS_WORKER_BUNDLE_FILE; else, when this code runs bundled (the npm
 * package, or the single file dist/picas.mjs), picas-worker.mjs beside it; else (a checkout)
 * dist/picas-worker.mjs at the repository's root.
 */
export function workerBundlePath(env: Record<string, string | undefined> = process.env): string {
  if (env.PICAS_WORKER_BUNDLE_FILE) return resolve(env.PICAS_WORKER_BUNDLE_FILE);
  if (bundled()) return fileURLToPath(new URL('./picas-worker.mjs', import.meta.url));
  // this file is packages/launch/dist/src/worker-bundle.js
  return fileURLToPath(new URL('../../../../dist/picas-worker.mjs', import.meta.url));
}

/** Reads the bundle; a missing one is a UsageError saying how to build it (or how to do without it). */
export function readWorkerBundle(path: string = workerBundlePath()): WorkerBundle {
  if (!existsSync(path)) {
    throw new UsageError(
      `the self-contained picas-worker is not built (${path} is missing): run \`npm run bundle\`, or give --worker-command to start a picas-worker that is installed on the cluster`,
    );
  }
  const bytes = readFileSync(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { path, bytes, sha256, stagedName: `picas-worker-${sha256.slice(0, 8)}.mjs` };
}

/** A size for messages: `812 KiB`. */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** A command (e.g. `--node`) that a pilot script can run: one word, no shell syntax. */
export function nodeCommandProblem(node: string | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (!/^[A-Za-z0-9_.,:+\-/=@~]+$/.test(node)) return `--node: '${node}' must be a program name or path without spaces or shell syntax`;
  return undefined;
}

export interface StagedCopy {
  /** the absolute path of the staged bundle */
  path: string;
  /** false when an identical copy was already there */
  copied: boolean;
}

/**
 * Copies the bundle into `dir` (created if missing) as its content-named file, unless that file is already
 * there with the same size. Written to a temporary name first and renamed, so a pilot never sees half a file.
 */
export function stageWorkerBundle(bundle: WorkerBundle, dir: string): StagedCopy {
  const target = join(resolve(dir), bundle.stagedName);
  try {
    mkdirSync(resolve(dir), { recursive: true });
  } catch (err) {
    throw new UsageError(`--stage: cannot create ${resolve(dir)}: ${(err as Error).message}`, { cause: err });
  }
  if (existsSync(target) && statSync(target).size === bundle.bytes.length) return { path: target, copied: false };
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    copyFileSync(bundle.path, tmp);
    renameSync(tmp, target);
  } catch (err) {
    throw new UsageError(`--stage: cannot copy the picas-worker bundle to ${target}: ${(err as Error).message}`, { cause: err });
  }
  return { path: target, copied: true };
}
