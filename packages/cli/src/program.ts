/**
 * The `picas` command line (commander). Each command lives in its own module under `commands/` and
 * registers itself; the one top-level catch maps errors to exit codes (see @picas/core errors).
 */
import { readFileSync } from 'node:fs';
import { CommanderError, type Command } from 'commander';
import { describeForUser, ExitCode, redactText } from '@picas/core';
import { helpLayout, PicasCommand } from './picas-command.js';

type Register = (program: Command) => void;

/** The cli package's version (dist/src/program.js → package.json). */
function picasVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// each module exports `register(program)`; heavy work is imported lazily inside the actions
const COMMAND_MODULES = [
  './commands/init.js',
  './commands/push.js',
  './commands/status.js',
  './commands/list.js',
  './commands/show.js',
  './commands/logs.js',
  './commands/reset.js',
  './commands/retry.js',
  './commands/delete.js',
  './commands/repair.js',
  './commands/graph.js',
  './commands/server.js',
  './commands/launch.js',
  './commands/slurm.js',
  './commands/firecrest.js',
  './commands/autoscale.js',
  './commands/config.js',
  './commands/passwd.js',
  './commands/user.js',
  './commands/pilots.js',
  './commands/dashboard.js',
];

export async function buildProgram(): Promise<Command> {
  const program = new PicasCommand('picas')
    .description('picas: a pilot-job token pool on CouchDB, compatible with Python PiCaS')
    .version(picasVersion(), '-V, --version')
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
  for (const path of COMMAND_MODULES) {
    const mod = (await import(path)) as { register: Register };
    mod.register(program);
  }
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // keep the password out of `ps` output: the process title never shows argv
  process.title = 'picas';
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
