/** Where the bench finds the built picas: the repository, the CLI, and the pilot command the launchers use. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveWorkerCommand } from '@picas/launch/worker-command';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const cliBin = join(root, 'packages/cli/dist/src/bin.js');
// pilots start as `picas launch` and the Slurm/FirecREST pilot scripts start them (with the pilot's node options)
export const workerCommand = resolveWorkerCommand({ env: {} });
export const workerStart = (args: string[]) => [...workerCommand.args, ...args];
