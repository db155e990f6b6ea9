/**
 * The `picas` command line (commander). Each command lives in its own module under `commands/` and
 * registers itself; the one top-level catch maps errors to exit codes (see @picas/core errors).
 */
import { CommanderError, type Command } from 'commander';
import { describeForUser, ExitCode, redactText } from '@picas/core';
import { buildStamp, describeBuild, packageVersion } from '@picas/core/build-stamp';
import { helpLayout, PicasCommand } from './picas-command.js';

type Register = (program: Command) => void;

/** The cli package's package.json (from dist/src/program.js); a bundle has its version stamped in. */
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

// each module, commands/<name>.js, exports `register(program)`; heavy work is imported lazily inside the
// actions. Imported as `./commands/${name}.js`, a pattern the bundler (scripts/bundle.mjs) follows.
const COMMAND_MODULES = [
  'init',
  'push',
  'status',
  'list',
  'show',
  'logs',
  'results',
  'reset',
  'retry',
  'delete',
  'repair',
  'graph',
  'server',
  'launch',
  'slurm',
  'firecrest',
  'autoscale',
  'config',
  'passwd',
  'user',
  'pilots',
  'dashboard',
];

export async function buildProgram(): Promise<Command> {
  const program = new PicasCommand('picas')
    .description('picas: a pilot-job token pool on CouchDB, compatible with Python PiCaS')
    .version(packageVersion(PACKAGE_JSON), '-V, --version')
    .option('--url <url>', 'CouchDB URL (env PICAS_URL or PICAS_HOST_URL; default: the embedded server)')
    .option('--db <name>', 'database (env PICAS_DB or PICAS_DATABASE; default: picas)')
    .option('--username <name>', 'CouchDB user (env PICAS_USERNAME)')
    .option('--password <password>', 'CouchDB password (prefer env PICAS_PASSWORD or .env)')
    .option('--config <file>', 'YAML config file (env PICAS_CONFIG; default: ~/.config/picas/conf.yml if present)')
    .option('--log-format <text|json>', 'log lines (picas dashboard, picas launch local): text, one line per event, or json (env PICAS_LOG_FORMAT; default: text on a terminal, json when piped)')
    // every subcommand's help lists these connection options too (commander copies the setting to each)
    .configureHelp(helpLayout)
    // a typo gets the error and commander's one "(Did you mean ...?)" line, not the whole help
    .showHelpAfterError(false)
    .exitOverride();
  program.addHelpText(
    'after',
    `\nExit codes: 0 ok, 1 usage or bad input, 2 server unreachable, 3 authentication failed, 4 not found, 5 conflict, 6 external tool failed (sbatch, FirecREST), 70 internal error.`,
  );
  for (const name of COMMAND_MODULES) {
    const mod = (await import(`./commands/${name}.js`)) as { register: Register };
    mod.register(program);
  }
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // keep the password out of `ps` output: the process title never shows argv
  process.title = 'picas';
  // the version with the commit it was built from (asking git only here, not on every command)
  const args = argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${describeBuild(buildStamp(PACKAGE_JSON))}\n`);
    return ExitCode.ok;
  }
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      return ExitCode.usage;
    }
    const { exitCode, text } = describeForUser(err);
    const { knownSecrets } = await import('./context.js');
    const secrets = [program.opts().password, process.env.PICAS_PASSWORD, ...knownSecrets].filter((s): s is string => !!s);
    process.stderr.write(`picas: ${redactText(text, secrets)}\n`);
    return exitCode;
  }
}
