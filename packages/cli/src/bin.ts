#!/usr/bin/env node
/**
 * `picas`, from a checkout, the npm package and the single file dist/picas.mjs (scripts/bundle.mjs bundles
 * from here). Before anything else is loaded it refuses a Node.js that is too old, in one line naming the
 * node it runs on; then it loads the command line (cli-main.js). Only the version check is imported
 * statically: an old node never parses the rest. In the bundle every module is initialised only when it is
 * first imported, so the check runs before any dependency's code there too.
 */
import { MIN_NODE_VERSION, nodeVersionProblem } from '@picas/worker/node-version';

const problem = nodeVersionProblem(process.versions.node, MIN_NODE_VERSION);
if (problem) {
  process.stderr.write(`picas: ${problem} (${process.execPath}); load a newer node (e.g. module load nodejs/22)\n`);
  process.exit(1);
}
await import('./cli-main.js');
