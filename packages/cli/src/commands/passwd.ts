/**
 * `picas passwd`: changes the CouchDB user's password on the server and, when the password came from the
 * config file, encrypts the new one into it (as PiCaS' `picas-cli passwd` does).
 */
import type { Command } from 'commander';
import { loadLayers, picasKeyPath, redactUrl, UsageError } from '@picas/core';
import { connectionFor, knownSecrets, note, say, type GlobalOptions } from '../context.js';
import { promptNewSecret, readPasswordFile } from '../secret-input.js';

export function register(program: Command): void {
  program
    .command('passwd')
    .description("change the CouchDB user's password on the server, and in the config file (as picas-cli passwd does)")
    .option('--new-password-file <file>', 'read the new password from the first line of this file (else PICAS_NEW_PASSWORD, else asked twice)')
    .addHelpText(
      'after',
      `\nExamples:\n  picas passwd\n  picas passwd --new-password-file ~/new-password\n\nThe user is the one picas logs in as (PICAS_USERNAME, or username in conf.yml). A pool member changes its\n_users document; a server admin changes the admin password of the node it talks to.`,
    )
    .action(async (flags: { newPasswordFile?: string }, command: Command) => {
      const { changePassword, checkLogin } = await import('@picas/core/ops/change-password');
      const { encryptConfigPassword, ensureKeyFile, readConfigMapping, writeConfigFile } = await import('@picas/core/picas-config-file');
      const connection = connectionFor(command);
      if (!connection.username) throw new UsageError('no CouchDB user is configured (PICAS_USERNAME, or username in conf.yml): whose password should change?');
      const globals = command.optsWithGlobals() as GlobalOptions;
      const layers = loadLayers({ flags: { config: globals.config } });
      // the config file is rewritten when it holds this user's password
      const file = layers.fileName ? readConfigMapping(layers.fileName) : undefined;
      const fileUser = file?.username ?? file?.user;
      const fileHoldsPassword = file !== undefined && (file.encrypted_password != null || file.password != null) && (fileUser === undefined || fileUser === connection.username);

      let newPassword: string | undefined;
      if (flags.newPasswordFile) newPassword = readPasswordFile(flags.newPasswordFile, '--new-password-file');
      else if (process.env.PICAS_NEW_PASSWORD) newPassword = process.env.PICAS_NEW_PASSWORD;
      else newPassword = await promptNewSecret(`new CouchDB password for '${connection.username}'`);
      if (!newPassword) throw new UsageError('no new password: give --new-password-file FILE, set PICAS_NEW_PASSWORD, or run on a terminal to be asked');
      knownSecrets.push(newPassword);
      if (newPassword === connection.password) throw new UsageError('the new password is the same as the current one; nothing was changed');
      // the key must be usable before the server changes, so the file is never left behind
      const key = fileHoldsPassword ? ensureKeyFile(layers.keyPath ?? picasKeyPath()) : undefined;

      const { openCouch } = await import('@picas/core');
      const couch = openCouch(connection);
      let change;
      try {
        change = await changePassword(couch, newPassword);
      } finally {
        await couch.close();
      }
      say(`changed the password of ${change.where === 'users' ? 'CouchDB user' : 'server admin'} '${change.name}' on ${redactUrl(connection.url)}`);
      if (change.where === 'server-admins') note('picas: note: on a CouchDB cluster this changed the node picas talks to; change it on the other nodes too');
      if (!(await checkLogin({ ...connection, password: newPassword }))) {
        note(`picas: warning: ${redactUrl(connection.url)} does not accept the new password yet`);
      }
      if (fileHoldsPassword && layers.fileName && key) {
        const updated: Record<string, unknown> = { ...file, encrypted_password: encryptConfigPassword(newPassword, key.key) };
        delete updated.password;
        writeConfigFile(layers.fileName, updated);
        say(`updated encrypted_password in ${layers.fileName}`);
      }
      const fromEnv = ['PICAS_PASSWORD'].filter((n) => process.env[n]);
      if (fromEnv.length > 0 || layers.dotenv?.PICAS_PASSWORD) {
        note(`picas: PICAS_PASSWORD (${fromEnv.length > 0 ? 'environment' : layers.dotenvName}) still holds the old password: update it`);
      } else if (!fileHoldsPassword) {
        note('picas: no config file holds this password: update wherever you keep it');
      }
    });
}
