/**
 * `picas user add|list|remove`: pilot accounts. A CouchDB user that is a member of the pool database only
 * can claim and finish tokens, but cannot change views, other databases or the server: give pilots that
 * instead of the admin password. Run these as a CouchDB server admin.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { AuthError, describeConnection, UsageError, type Couch } from '@picas/core';
import { knownSecrets, note, printJson, say, withCouch } from '../context.js';
import { readPasswordFile } from '../secret-input.js';
import { formatTable } from '../table.js';

async function requireServerAdmin(couch: Couch, what: string): Promise<void> {
  const { sessionUser, isServerAdmin } = await import('@picas/core/ops/session');
  const user = await sessionUser(couch);
  if (!isServerAdmin(user)) {
    throw new AuthError(`${what} needs a CouchDB server admin; ${user.name ? `user ${user.name} is not one` : 'no user is logged in'} (set PICAS_USERNAME and PICAS_PASSWORD to an admin's)`);
  }
}

/** The credentials, once: into a 0600 env file for the launchers, or on stdout (unless the caller gave the password). */
async function handOver(couch: Couch, name: string, password: string, how: { given?: string; pilotEnvFile?: string; what: string }): Promise<void> {
  const env = { PICAS_URL: couch.config.url, PICAS_DB: couch.config.db, PICAS_USERNAME: name, PICAS_PASSWORD: password };
  if (how.pilotEnvFile) {
    const { writeEnvFile } = await import('@picas/launch/pilot-env');
    writeEnvFile(how.pilotEnvFile, env);
    const shown = how.pilotEnvFile.includes('/') ? how.pilotEnvFile : `./${how.pilotEnvFile}`;
    say(`${how.what}; its credentials are in ${how.pilotEnvFile} (mode 0600)`);
    say(`launch pilots with them: (set -a; . ${shown}; picas slurm submit ...)`);
  } else if (how.given) {
    say(`${how.what}, with the password from ${how.given}`);
  } else {
    for (const [k, v] of Object.entries(env)) say(`${k}=${v}`);
    note(`picas: ${how.what}; its password is shown only this once: store it now`);
  }
}

export function register(program: Command): void {
  const user = program.command('user').description('pilot accounts: CouchDB users that are members of the pool database only (run as a server admin)');

  user
    .command('add')
    .description('create a CouchDB user and make it a member of the pool database only; prints its credentials once')
    .argument('<name>', 'the new user name')
    .option('--password-file <file>', 'its password: the first line of this file (default: a new random one)')
    .option('--existing', 'the CouchDB user exists already (e.g. for another pool): only make it a member of this database')
    .option('--pilot-env-file <file>', 'write PICAS_URL, PICAS_DB, PICAS_USERNAME and PICAS_PASSWORD to this file (mode 0600) instead of printing them')
    .addHelpText(
      'after',
      `\nExamples:\n  picas user add pilot --pilot-env-file pilot.env\n  (set -a; . ./pilot.env; picas slurm submit --array 1-10)   # the pilots log in as 'pilot'`,
    )
    .action(async (name: string, flags: { passwordFile?: string; pilotEnvFile?: string; existing?: boolean }, command: Command) => {
      const { addPoolUser } = await import('@picas/core/ops/pool-users');
      if (flags.existing && (flags.passwordFile || flags.pilotEnvFile)) throw new UsageError('--existing keeps the user\'s password: it takes no --password-file or --pilot-env-file');
      const given = flags.passwordFile ? readPasswordFile(flags.passwordFile) : undefined;
      const password = given ?? randomBytes(18).toString('base64url');
      knownSecrets.push(password);
      await withCouch(command, async (couch) => {
        await requireServerAdmin(couch, 'picas user add');
        const added = await addPoolUser(couch, name, flags.existing ? undefined : password);
        const access = `a member of database '${couch.config.db}' only`;
        if (added.wasOpen) note(`picas: database '${couch.config.db}' had no members, so every CouchDB user could use it; now only its members and admins can`);
        if (flags.existing) {
          say(added.memberAdded ? `made CouchDB user '${name}' a member of database '${couch.config.db}'` : `'${name}' is already a member of database '${couch.config.db}'`);
          return;
        }
        await handOver(couch, name, password, { given: flags.passwordFile, pilotEnvFile: flags.pilotEnvFile, what: `created CouchDB user '${name}', ${access}` });
      });
    });

  user
    .command('passwd')
    .description("set a new password for a CouchDB user (as a server admin), e.g. a pilot account's; prints it once")
    .argument('<name>', 'the user name')
    .option('--password-file <file>', 'the new password: the first line of this file (default: a new random one)')
    .option('--pilot-env-file <file>', 'write PICAS_URL, PICAS_DB, PICAS_USERNAME and PICAS_PASSWORD to this file (mode 0600) instead of printing them')
    .action(async (name: string, flags: { passwordFile?: string; pilotEnvFile?: string }, command: Command) => {
      const { setUserPassword } = await import('@picas/core/ops/pool-users');
      const given = flags.passwordFile ? readPasswordFile(flags.passwordFile) : undefined;
      const password = given ?? randomBytes(18).toString('base64url');
      knownSecrets.push(password);
      await withCouch(command, async (couch) => {
        await requireServerAdmin(couch, 'picas user passwd');
        await setUserPassword(couch, name, password);
        await handOver(couch, name, password, { given: flags.passwordFile, pilotEnvFile: flags.pilotEnvFile, what: `set a new password for CouchDB user '${name}'` });
      });
    });

  user
    .command('list')
    .description("the pool database's users (from its _security) and whether each has a CouchDB account")
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const { listPoolUsers } = await import('@picas/core/ops/pool-users');
      await withCouch(command, async (couch) => {
        const list = await listPoolUsers(couch);
        if (flags.json) {
          printJson(list);
          return;
        }
        if (list.users.length === 0) say(`database '${couch.config.db}' names no users in its _security (${describeConnection(couch.config)})`);
        else {
          const rows = list.users.map((u) => [u.name, u.access, u.account === 'unknown' ? '?' : u.account ? 'yes' : 'no (server admin, or removed)']);
          say(formatTable([['NAME', 'ACCESS', 'ACCOUNT'], ...rows]));
        }
        if (list.memberRoles.length) say(`member roles: ${list.memberRoles.join(', ')}`);
        if (list.adminRoles.length) say(`admin roles: ${list.adminRoles.join(', ')}`);
      });
    });

  user
    .command('remove')
    .description("take the user out of the pool database's _security and delete its CouchDB account")
    .argument('<name>', 'the user name')
    .option('--keep-account', 'only take it out of this database; keep the CouchDB account (e.g. for other databases)')
    .action(async (name: string, flags: { keepAccount?: boolean }, command: Command) => {
      const { removePoolUser } = await import('@picas/core/ops/pool-users');
      await withCouch(command, async (couch) => {
        await requireServerAdmin(couch, 'picas user remove');
        const removed = await removePoolUser(couch, name, { keepAccount: flags.keepAccount });
        const parts = [removed.revoked ? `removed '${name}' from database '${couch.config.db}'` : `'${name}' was not a user of database '${couch.config.db}'`];
        if (removed.deleted) parts.push(`deleted CouchDB user '${name}'`);
        else if (!flags.keepAccount) parts.push(`no CouchDB account '${name}' to delete`);
        say(parts.join('; '));
      });
    });
}
