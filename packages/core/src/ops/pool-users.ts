/**
 * Pilot accounts: CouchDB users (`_users/org.couchdb.user:NAME`) that are members of one pool database
 * (its `_security.members.names`), so that pilots never hold an admin password. Run as a server admin.
 * `_security` is read, changed and written back whole: other members, roles and admins are kept.
 */
import type { Couch } from '../couch/connection.js';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';

export interface SecurityObject {
  admins?: { names?: string[]; roles?: string[] };
  members?: { names?: string[]; roles?: string[] };
  [key: string]: unknown;
}

export function userDocId(name: string): string {
  return `org.couchdb.user:${name}`;
}

function userDocPath(name: string): string {
  return `/_users/${encodeURIComponent(userDocId(name))}`;
}

/** CouchDB's rules for user names, checked before anything is sent. */
export function userNameProblem(name: string): string | undefined {
  if (!name) return 'the user name is empty';
  if (name.startsWith('_')) return `'${name}': CouchDB user names cannot start with _`;
  if (name.includes(':')) return `'${name}': CouchDB user names cannot contain ':'`;
  if (/[\s\u0000-\u001f]/.test(name)) return `'${name}': use a name without spaces or control characters`;
  return undefined;
}

export async function readSecurity(couch: Couch): Promise<SecurityObject> {
  const { http } = couch;
  const res = await http.request<SecurityObject>({ path: http.dbPath('/_security') });
  if (res.status === 404) throw new NotFoundError(`database '${couch.config.db}' does not exist: run picas init first`);
  if (res.status !== 200) throw http.errorFor(res, `reading the _security of '${couch.config.db}'`);
  return res.body ?? {};
}

async function writeSecurity(couch: Couch, security: SecurityObject): Promise<void> {
  const { http } = couch;
  await http.expectOk({ method: 'PUT', path: http.dbPath('/_security'), body: security }, `writing the _security of '${couch.config.db}'`);
}

export interface AddedUser {
  name: string;
  /** false when the database already listed the name as a member */
  memberAdded: boolean;
  /** true when the database had no members at all, so it was open to every CouchDB user until now */
  wasOpen: boolean;
}

/**
 * Creates the CouchDB user and makes it a member of the pool database (only). With `password` undefined the
 * user must exist already (e.g. a member of another pool) and only becomes a member of this one.
 */
export async function addPoolUser(couch: Couch, name: string, password: string | undefined): Promise<AddedUser> {
  const problem = userNameProblem(name);
  if (problem) throw new UsageError(problem);
  const { http } = couch;
  // the database first: a user made for a database that does not exist would be left behind
  const security = await readSecurity(couch);
  if (password === undefined) {
    const existing = await http.request({ path: userDocPath(name) });
    if (existing.status === 404) throw new NotFoundError(`there is no CouchDB user '${name}' (leave out --existing to create it)`);
    if (existing.status !== 200) throw http.errorFor(existing, `reading CouchDB user '${name}'`);
  } else {
    const put = await http.request({
      method: 'PUT',
      path: userDocPath(name),
      body: { _id: userDocId(name), name, type: 'user', roles: [], password },
    });
    if (put.status === 409) {
      throw new ConflictError(`CouchDB user '${name}' already exists: add --existing to make it a member of this database too, or pick another name`);
    }
    if (put.status === 404) throw new NotFoundError(`this CouchDB has no _users database (a server admin must create it)`);
    if (put.status !== 201 && put.status !== 202) throw http.errorFor(put, `creating CouchDB user '${name}' (this needs a CouchDB server admin)`);
  }
  const members = { ...(security.members ?? {}) };
  const names = [...(members.names ?? [])];
  const wasOpen = names.length === 0 && (members.roles ?? []).length === 0;
  const memberAdded = !names.includes(name);
  if (memberAdded) {
    names.push(name);
    await writeSecurity(couch, { ...security, members: { ...members, roles: members.roles ?? [], names } });
  }
  return { name, memberAdded, wasOpen };
}

export interface PoolUser {
  name: string;
  /** 'member' or 'admin' of the pool database */
  access: 'member' | 'admin';
  /** whether `_users` has the account (false for server admins, which live in the server config) */
  account: boolean | 'unknown';
}

export interface PoolUsers {
  users: PoolUser[];
  memberRoles: string[];
  adminRoles: string[];
}

/** The names in the pool database's `_security`, and whether each has a `_users` account. */
export async function listPoolUsers(couch: Couch): Promise<PoolUsers> {
  const security = await readSecurity(couch);
  const users: PoolUser[] = [];
  const add = (names: string[] | undefined, access: PoolUser['access']) => {
    for (const name of names ?? []) if (!users.some((u) => u.name === name)) users.push({ name, access, account: 'unknown' });
  };
  add(security.admins?.names, 'admin');
  add(security.members?.names, 'member');
  if (users.length > 0) {
    const res = await couch.http.request<{ rows: Array<{ key: string; error?: string; value?: { deleted?: boolean } }> }>({
      method: 'POST',
      path: '/_users/_all_docs',
      body: { keys: users.map((u) => userDocId(u.name)) },
    });
    if (res.status === 200) {
      const found = new Set(res.body.rows.filter((r) => !r.error && !r.value?.deleted).map((r) => r.key));
      for (const u of users) u.account = found.has(userDocId(u.name));
    }
  }
  return { users, memberRoles: security.members?.roles ?? [], adminRoles: security.admins?.roles ?? [] };
}

export interface RemovedUser {
  name: string;
  /** removed from the pool database's members (or admins) */
  revoked: boolean;
  /** the `_users` account was deleted */
  deleted: boolean;
}

/** Takes the name out of the pool database's `_security`, then (unless keepAccount) deletes the CouchDB user. */
export async function removePoolUser(couch: Couch, name: string, options: { keepAccount?: boolean } = {}): Promise<RemovedUser> {
  const problem = userNameProblem(name);
  if (problem) throw new UsageError(problem);
  const { http } = couch;
  const security = await readSecurity(couch);
  const without = (group: SecurityObject['members']) => (group ? { ...group, names: (group.names ?? []).filter((n) => n !== name) } : group);
  const revoked = (security.members?.names ?? []).includes(name) || (security.admins?.names ?? []).includes(name);
  if (revoked) await writeSecurity(couch, { ...security, members: without(security.members), admins: without(security.admins) });
  let deleted = false;
  if (!options.keepAccount) {
    for (let attempt = 0; attempt < 3 && !deleted; attempt++) {
      const doc = await http.request<{ _rev?: string }>({ path: userDocPath(name) });
      if (doc.status === 404) break;
      if (doc.status !== 200) throw http.errorFor(doc, `reading CouchDB user '${name}'`);
      const del = await http.request({ method: 'DELETE', path: userDocPath(name), query: { rev: doc.body._rev } });
      if (del.status === 200 || del.status === 202) deleted = true;
      else if (del.status !== 409) throw http.errorFor(del, `deleting CouchDB user '${name}'`);
    }
  }
  if (!revoked && !deleted) throw new NotFoundError(`'${name}' is neither a user of database '${couch.config.db}' nor a CouchDB user`);
  return { name, revoked, deleted };
}

/** A server admin sets a new password for a CouchDB user (its roles and other fields are kept). */
export async function setUserPassword(couch: Couch, name: string, password: string): Promise<void> {
  const problem = userNameProblem(name);
  if (problem) throw new UsageError(problem);
  const { http } = couch;
  for (let attempt = 0; attempt < 3; attempt++) {
    const doc = await http.request<Record<string, unknown>>({ path: userDocPath(name) });
    if (doc.status === 404) throw new NotFoundError(`there is no CouchDB user '${name}'`);
    if (doc.status !== 200) throw http.errorFor(doc, `reading CouchDB user '${name}'`);
    const put = await http.request({ method: 'PUT', path: userDocPath(name), body: { ...doc.body, password } });
    if (put.status === 201 || put.status === 202) return;
    if (put.status !== 409) throw http.errorFor(put, `setting the password of CouchDB user '${name}'`);
  }
  throw new ConflictError(`the _users document of '${name}' keeps changing; try again`);
}
