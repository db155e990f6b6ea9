/** picas-worker's version: set by the bundler, else read from the worker package's package.json. */
import { readFileSync } from 'node:fs';

/** Set by the bundler (`define`); undefined when this file runs unbundled. */
declare const __PICAS_WORKER_VERSION__: string | undefined;

export function workerVersion(): string {
  if (typeof __PICAS_WORKER_VERSION__ === 'string') return __PICAS_WORKER_VERSION__;
  try {
    // dist/src/worker-version.js → the package's package.json
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

