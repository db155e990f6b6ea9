/**
 * Who the configured credentials are on the server: `GET /_session`'s `userCtx` (name and roles). A CouchDB
 * server admin has the `_admin` role; a pool member has neither that nor a place in `_security.admins`.
 */
import type { Couch } from '../couch/connection.js';

export interface SessionUser {
  /** null for an anonymous request */
  name: string | null;
  roles: string[];
}

export async function sessionUser(couch: Couch, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SessionUser> {
  const body = await couch.http.expectOk<{ userCtx?: { name?: string | null; roles?: string[] } }>(
    { path: '/_session', signal: options.signal, timeoutMs: options.timeoutMs },
    'asking CouchDB who we are (/_session)',
  );
  return { name: body.userCtx?.name ?? null, roles: body.userCtx?.roles ?? [] };
}

export function isServerAdmin(user: SessionUser): boolean {
  return user.roles.includes('_admin');
}
