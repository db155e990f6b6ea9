/**
 * The entry point of the `picas` bundle (dist/picas.mjs, and the npm package's dist/picas.mjs, built by
 * scripts/bundle.mjs). Before anything else is loaded it refuses a Node.js that is too old, in one line
 * naming the node it runs on; then it loads the command line (bin.js). In the bundle every module is
 * initialised only when it is first imported, so the check runs before any dependency's code.
 */
import { MIN_NODE_VERSION, nodeVersionProblem } from '@picas/worker/node-version';

const problem = nodeVersionProblem(process.versions.node, MIN_NODE_VERSION);
if (problem) {
  process.stderr.write(`picas: ${problem} (${process.execPath}); load a newer node (e.g. module load nodejs/22)\n`);
  process.exit(1);
}
await import('./bin.js');
