/**
 * Which cluster nodes the node we talk to can reach (`GET /_membership`): `cluster_nodes` are the configured
 * members, `all_nodes` the ones connected now. A member missing from `all_nodes` is down or cut off. It is
 * what tells a degraded cluster (claims cannot reach every replica) from plain contention (another pilot's
 * claim reached some replicas first), since both answer a claim with 202.
 *
 * Undefined where the server has no `_membership` (the embedded server) or refuses it.
 */
import type { CouchHttp } from '../couch/http.js';
import { UnreachableError } from '../errors.js';

export interface Membership {
  nodes: string[];
  /** configured members this node cannot reach */
  missing: string[];
}

export async function readMembership(http: CouchHttp, options: { signal?: AbortSignal } = {}): Promise<Membership | undefined> {
  let res;
  try {
    res = await http.request<{ all_nodes?: string[]; cluster_nodes?: string[] }>({ path: '/_membership', signal: options.signal, timeoutMs: 10_000 });
  } catch (err) {
    if (err instanceof UnreachableError) return undefined;
    throw err;
  }
  if (res.status !== 200 || !Array.isArray(res.body?.cluster_nodes)) return undefined;
  const up = new Set(res.body.all_nodes ?? []);
  return { nodes: res.body.cluster_nodes, missing: res.body.cluster_nodes.filter((n) => !up.has(n)) };
}
