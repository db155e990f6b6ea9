/** picas-worker's version: stamped by the bundler, else from the worker package's package.json (core's build-stamp.ts). */
import { buildStamp, describeBuild } from '@picas/core/build-stamp';

/** `0.1.0 (commit 0123456789ab)`: dist/src/worker-version.js → the package's package.json */
export function workerVersion(): string {
  return describeBuild(buildStamp(new URL('../../package.json', import.meta.url)));
}
