/**
 * `picas passwd`: changes the logged-in CouchDB user's password on the server, as PiCaS' `picas-cli passwd`
 * does (read `_users/org.couchdb.user:NAME`, write it back with `password`). Unlike PiCaS it keeps the
 * document's roles and other fields. A server admin (no `_users` document) is changed in the node's
 * configuration instead (`_node/_local/_config/admins/NAME`; on a cluster that is this node only).
 */
import type { ConnectionConfig } from '../connection-config.js';
import { openCouch, type Couch } from '../couch/connection.js';
import { AuthError, NotFoundError } from '../errors.js';
import { userDocId } from './pool-users.js';
import { isServerAdmin, sessionUser } from './session.js';

export interface PasswordChange {
  name: string;
  /** where the password lives: the user's `_users` document, or the server's admin configuration */
  where: 'users' | 'server-admins';
}

export async function changePassword(couch: Couch, newPassword: string): Promise<PasswordChange> {
  const { http } = couch;
  const user = await sessionUser(couch);
  if (!user.name) throw new AuthError('not logged in: set the user name and password first (picas config init)');
  const name = user.name;
  const docPath = `/_users/${encodeURIComponent(userDocId(name))}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const doc = await http.request<Record<string, unknown>>({ path: docPath });
    if (doc.status === 200) {
      const body = { ...doc.body, password: newPassword };
      const put = await http.request({ method: 'PUT', path: docPath, body });
      if (put.status === 201 || put.status === 202) return { name, where: 'users' };
      if (put.status === 409) continue;
      throw http.errorFor(put, `changing the password of CouchDB user '${name}'`);
    }
    if ((doc.status === 401 || doc.status === 403) && !isServerAdmin(user)) {
      throw new AuthError(
        `CouchDB does not let user ${name} change its own password: its _users database is open to server admins only ` +
          `(the CouchDB 3 default). A server admin can set a new one: picas user passwd ${name}`,
        { cause: http.errorFor(doc, `reading CouchDB user '${name}'`) },
      );
    }
    if (doc.status !== 404) throw http.errorFor(doc, `reading CouchDB user '${name}'`);
    if (!isServerAdmin(user)) throw new NotFoundError(`CouchDB user '${name}' has no _users document, so its password cannot be changed from here`);
    // a server admin: its password is in the server configuration (pouchdb-server has no `_node/_local`)
    for (const path of [`/_node/_local/_config/admins/${encodeURIComponent(name)}`, `/_config/admins/${encodeURIComponent(name)}`]) {
      const put = await http.request({ method: 'PUT', path, body: newPassword });
      if (put.status === 200) return { name, where: 'server-admins' };
      if (put.status !== 404 && put.status !== 400) throw http.errorFor(put, `changing the password of server admin '${name}'`);
    }
    throw new NotFoundError(`this server does not let picas change the password of server admin '${name}'`);
  }
  throw new AuthError(`the _users document of '${name}' keeps changing; try again`);
}

/**
 * Logs in with the new password, to be sure it took before the config file is rewritten. CouchDB's
 * authentication cache follows `_users` a moment later, so this asks again for up to `withinMs`.
 */
export async function checkLogin(config: ConnectionConfig, withinMs = 10_000): Promise<boolean> {
  const couch = openCouch(config);
  const deadline = Date.now() + withinMs;
  try {
    for (;;) {
      const res = await couch.http.request<{ userCtx?: { name?: string | null } }>({ path: '/_session' });
      if (res.status === 200 && res.body?.userCtx?.name === config.username) return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await couch.close();
  }
}
