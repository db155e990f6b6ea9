/**
 * The one check the launchers (`picas launch local`, `picas slurm submit`, `picas firecrest submit`) make
 * before starting pilots: would the pilots log in as a CouchDB server admin? Then anyone who can read a
 * job's environment holds the whole server. The answer is a warning (once per process), never a refusal,
 * and a failed check says nothing: the launcher's own database check reports an unreachable server.
 */
import { openCouch, type ConnectionConfig } from '@picas/core';
import { isServerAdmin, sessionUser } from '@picas/core/ops/session';

let warned = false;

/** The warning to show when the pilots would get admin credentials; undefined otherwise (or if already shown). */
export async function adminPilotWarning(connection: ConnectionConfig, options: { timeoutMs?: number } = {}): Promise<string | undefined> {
  if (warned || connection.embedded || !connection.username) return undefined;
  const couch = openCouch(connection, { connections: 1 });
  try {
    const user = await sessionUser(couch, { timeoutMs: options.timeoutMs ?? 10_000 });
    if (!isServerAdmin(user)) return undefined;
    warned = true;
    return (
      `warning: the pilots will log in as '${user.name ?? connection.username}', a CouchDB server admin: whoever can read a job's ` +
      `environment can then change anything on this server. Give them a member of '${connection.db}' only: ` +
      `picas user add pilot --pilot-env-file pilot.env, then (set -a; . ./pilot.env; <this command>)`
    );
  } catch {
    return undefined;
  } finally {
    await couch.close();
  }
}
