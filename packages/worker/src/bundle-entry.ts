/**
 * The entry point of the self-contained `picas-worker` bundle (dist/picas-worker.mjs, built by
 * scripts/bundle.mjs), and of `bin/picas-worker` in a checkout. Before anything else is loaded it:
 *   - refuses a Node.js that is too old, in one line, naming the node it runs on;
 *   - answers `--version` (and `-V`) without loading the worker.
 * Then it loads the worker (bin.js) itself. In the bundle every module is initialised only when it is first
 * imported, so the check runs before any dependency's code.
 */
import { MIN_NODE_VERSION, nodeVersionProblem } from './node-version.js';
import { bundled } from '@picas/core/build-stamp';
import { workerVersion } from './worker-version.js';

const problem = nodeVersionProblem(process.versions.node, MIN_NODE_VERSION);
if (problem) {
  process.stderr.write(`picas-worker: ${problem} (${process.execPath}); load a newer node (e.g. module load nodejs/22) or point the launcher at one with --node\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`picas-worker ${workerVersion()} (${bundled() ? 'self-contained bundle; ' : ''}node ${process.versions.node})\n`);
} else {
  await import('./bin.js');
}
