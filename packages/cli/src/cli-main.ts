import { main } from './program.js';

// `picas ... | head`: a closed pipe ends the command quietly, as for any Unix tool
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await main(process.argv);
