/**
 * How many copies of each document the database keeps (`cluster.n` in `GET /db`), and from it the write
 * quorum a claim must use. A single-node CouchDB or the embedded server report no `cluster`: n = 1 and
 * claims need no `w` parameter.
 */
import type { CouchHttp } from '../couch/http.js';

export interface Replicas {
  /** copies of each document (1 on a single node) */
  n: number;
  /** true when the server reported a `cluster` object (CouchDB 2+ in cluster mode) */
  clustered: boolean;
  /** the database's update_seq, opaque */
  updateSeq?: unknown;
}

export async function readReplicas(http: CouchHttp, options: { signal?: AbortSignal } = {}): Promise<Replicas> {
  const info = await http.expectOk<{ cluster?: { n?: number }; update_seq?: unknown }>(
    { path: http.dbPath(), signal: options.signal },
    'opening database',
  );
  const n = Number(info?.cluster?.n);
  const clustered = Number.isInteger(n) && n >= 1;
  return { n: clustered ? n : 1, clustered, updateSeq: info?.update_seq };
}

/**
 * The `w` a claim PUT sends: every replica by default (`'all'`), or the explicitly lowered quorum.
 * Undefined on a single node, where CouchDB's default already means "the one copy".
 */
export function claimWriteQuorum(replicas: Replicas, quorum: 'all' | number): number | undefined {
  if (!replicas.clustered) return undefined;
  if (quorum === 'all') return replicas.n;
  return Math.max(1, Math.min(quorum, replicas.n));
}

/** True when the claim quorum is below the replica count, so a 201 no longer proves a unique win. */
export function claimQuorumIsUnsafe(replicas: Replicas, quorum: 'all' | number): boolean {
  return replicas.n > 1 && quorum !== 'all' && quorum < replicas.n;
}
