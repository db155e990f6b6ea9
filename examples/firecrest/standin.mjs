#!/usr/bin/env node
// Runs the FirecREST v2 stand-in from picas' test kit on this machine, to try `picas firecrest` without a
// FirecREST site. Jobs go to the local Slurm when `sinfo` answers, else they run as bash processes.
//
//   npm run build && node examples/firecrest/standin.mjs
//
// It prints the settings as `export` lines (paste them into another shell, or `eval` them), then serves
// until Ctrl-C. The client secret it prints is a random one for this throwaway local server only.
import { startFirecrestStandin } from '@picas/testkit';

const standin = await startFirecrestStandin();
const settings = { ...standin.env(), PICAS_FIRECREST_WORKDIR: `${standin.root}/pilots` };
for (const [name, value] of Object.entries(settings)) process.stdout.write(`export ${name}=${value}\n`);
process.stdout.write(`# FirecREST stand-in ready: system '${standin.system}', jobs run with ${standin.runner}, files under ${standin.root}. Ctrl-C stops it.\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await standin.close();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
