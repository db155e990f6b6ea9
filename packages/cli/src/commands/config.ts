/**
 * `picas config init` and `picas config show`: PiCaS' own `~/.config/picas/conf.yml` (host_url, database,
 * username, encrypted_password) with its Fernet key in `~/.config/picas/key.dat`, written the way PiCaS 1.1's
 * `picas-cli init` writes them, so that Python PiCaS reads what picas writes and the other way round.
 */
import { rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  connectionSettings,
  loadLayers,
  picasConfigPath,
  picasKeyPath,
  redactUrl,
  resolveSettings,
  UsageError,
  type SettingValue,
} from '@picas/core';
import { knownSecrets, note, printJson, say, type GlobalOptions } from '../context.js';
import { promptSecret, readPasswordFile } from '../secret-input.js';

interface InitFlags {
  hostUrl?: string;
  database?: string;
  passwordFile?: string;
  check?: boolean;
}

/** The config file picas reads and writes: --config, PICAS_CONFIG, or PiCaS' default. */
export function configFilePath(command: Command): string {
  const flags = command.optsWithGlobals() as GlobalOptions;
  const explicit = flags.config ?? process.env.PICAS_CONFIG;
  return explicit ? resolve(explicit) : picasConfigPath();
}

export function register(program: Command): void {
  const config = program
    .command('config')
    .description("PiCaS' config file (~/.config/picas/conf.yml, password encrypted with ~/.config/picas/key.dat)");

  config
    .command('init')
    .description('write conf.yml and key.dat as PiCaS 1.1 does (picas-cli init), so that picas and Python PiCaS both read them')
    .option('--host-url <url>', 'CouchDB URL (same as --url; default: the current setting, else http://localhost:5984)')
    .option('--database <name>', 'database (same as --db; default: the current setting, else picas)')
    .option('--password-file <file>', 'read the password from the first line of this file (else PICAS_PASSWORD, else asked)')
    .option('--no-check', 'do not log in to CouchDB to check the user name and password')
    .addHelpText(
      'after',
      `\nExamples:\n  picas config init --url https://couch.example.org:6984 --db myproject --username alice\n  picas config init --username alice --password-file ~/.couchdb-password --no-check\n\nThe key file is always ~/.config/picas/key.dat (as in PiCaS); an existing key is kept. conf.yml holds\nexactly host_url, database, username and encrypted_password, as PiCaS' schema requires.`,
    )
    .action(async (flags: InitFlags, command: Command) => {
      const { encryptConfigPassword, ensureKeyFile, writeConfigFile } = await import('@picas/core/picas-config-file');
      const globals = command.optsWithGlobals() as GlobalOptions;
      const path = configFilePath(command);
      const keyPath = picasKeyPath();
      // the current settings (flags, environment, .env, the existing config file) are the defaults
      const layers = loadLayers({ flags: { config: globals.config } });
      const resolved = resolveSettings(connectionSettings, {
        ...layers,
        flags: { url: flags.hostUrl ?? globals.url, db: flags.database ?? globals.db, username: globals.username, password: globals.password },
      });
      const problems = [...resolved.errors];
      const url = (resolved.values.url as string | undefined) ?? 'http://localhost:5984';
      const db = (resolved.values.db as string | undefined) ?? 'picas';
      const username = resolved.values.username as string | undefined;
      if (!username) problems.push('--username is required (PiCaS\' conf.yml needs one): the CouchDB user name');
      if (new URL(url).username) problems.push('--url: give the user name with --username, not inside the URL');
      let password: string | undefined;
      if (flags.passwordFile) password = readPasswordFile(flags.passwordFile);
      else password = resolved.values.password as string | undefined;
      if (problems.length > 0) throw new UsageError(problems.length === 1 ? problems[0]! : `${problems.length} problems`, { problems });
      password ??= await promptSecret(`CouchDB password for '${username}' on database '${db}': `);
      if (password) knownSecrets.push(password);
      if (password === undefined || password === '') {
        throw new UsageError('no password: give --password-file FILE, set PICAS_PASSWORD, or run on a terminal to be asked');
      }
      let key;
      try {
        key = ensureKeyFile(keyPath);
      } catch (err) {
        // a damaged key decrypts nothing: replace it (the password is encrypted again right below)
        if (!(err instanceof UsageError) || !/does not hold a Fernet key/.test(err.message)) throw err;
        rmSync(keyPath);
        note(`picas: ${keyPath} held no valid key: replaced it with a new one`);
        key = ensureKeyFile(keyPath);
      }
      writeConfigFile(path, { host_url: url, database: db, username, encrypted_password: encryptConfigPassword(password, key.key) });
      say(`wrote ${path} (host_url, database, username, encrypted_password)`);
      say(key.created ? `created ${keyPath} (mode 0600): the key that decrypts the password; keep it private` : `kept the key in ${keyPath}`);
      if (flags.check !== false) {
        const { checkLogin } = await import('@picas/core/ops/change-password');
        try {
          const ok = await checkLogin({ url, db, username, password, embedded: false }, 0);
          if (ok) say(`checked: logged in to ${redactUrl(url)} as ${username}`);
          else note(`picas: warning: ${redactUrl(url)} did not accept user ${username} with this password (the files are written; fix it with picas config init, or picas passwd)`);
        } catch (err) {
          note(`picas: warning: could not check the login: ${(err as Error).message}`);
        }
      }
    });

  config
    .command('show')
    .description('the connection settings in effect and where each comes from (secrets masked)')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals() as GlobalOptions;
      const layers = loadLayers({ flags: { config: globals.config } });
      const resolved = resolveSettings(connectionSettings, {
        ...layers,
        flags: { url: globals.url, db: globals.db, username: globals.username, password: globals.password },
      });
      const keyPath = layers.keyPath ?? picasKeyPath();
      const rows: Array<{ setting: string; value: string | null; source: string }> = [];
      const shown = (key: string, value: SettingValue): string | null => {
        if (value === undefined) return null;
        if (key === 'password') return '***';
        if (key === 'url') return redactUrl(String(value));
        return String(value);
      };
      for (const spec of connectionSettings) {
        const value = resolved.values[spec.key];
        let source = resolved.sources[spec.key] ?? 'default';
        if (spec.key === 'password' && source.endsWith('(encrypted_password)')) source += `, decrypted with ${keyPath}`;
        rows.push({ setting: spec.key, value: shown(spec.key, value), source: value === undefined ? 'not set' : source });
      }
      const problems = [...layers.errors, ...resolved.errors];
      if (resolved.values.password === undefined && layers.passwordError) problems.push(layers.passwordError);
      const keyMode = fileMode(keyPath);
      if (flags.json) {
        printJson({ configFile: layers.fileName ?? null, keyFile: keyMode ? { path: keyPath, mode: keyMode } : null, settings: rows, problems });
      } else {
        say(`config file  ${layers.fileName ?? `none (${picasConfigPath()} does not exist)`}`);
        say(`key file     ${keyMode ? `${keyPath} (mode ${keyMode})` : `none (${keyPath} does not exist)`}`);
        for (const row of rows) say(`${row.setting.padEnd(12)} ${(row.value ?? '-').padEnd(32)} ${row.source}`);
        if (resolved.values.url === undefined) say('(no URL configured: picas uses the embedded server)');
        for (const p of problems) note(`picas: ${p}`);
      }
      if (problems.length > 0) process.exitCode = 1;
    });
}

function fileMode(path: string): string | undefined {
  try {
    return '0' + (statSync(path).mode & 0o777).toString(8);
  } catch {
    return undefined;
  }
}

