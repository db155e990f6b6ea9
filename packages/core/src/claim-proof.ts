/**
 * Which leaves of a split token can be proven never to have run: pure logic over the revision paths that
 * `GET /db/id?open_revs=all&revs=true` returns.
 *
 * A claim is won only by a 201 at `w = n`: every replica took the claim revision before any other edit of
 * the revision it was written on (its parent). After that, no replica accepts another child of that parent
 * (the parent is no longer a leaf there), and internal replication cannot bring one either, since no
 * replica has one. So if another leaf's branch also grew from the claim's parent, the claim got no 201 and
 * no pilot ran it: it is an **unconfirmed claim**, and its lease protects nothing.
 *
 * A leaf is recognised as the claim revision itself by `claimed_from` (the `_rev` the claim was written
 * on, recorded in the claim body) being its parent. A heartbeat or a result written later on a won claim
 * has another parent, so it is never taken for an unconfirmed claim. Tokens claimed by clients that do not
 * record `claimed_from` (Python PiCaS, older picas) prove nothing and are left to the lease.
 *
 * Under an explicitly lowered `--claim-quorum` a 201 proves nothing either; see docs/worker.md.
 */
import { tokenState, type TokenDoc } from './token.js';

export interface RevisionPath {
  /** generation of the leaf */
  start: number;
  /** revision hashes, the leaf first, then its ancestors */
  ids: string[];
}

export type LeafDoc = TokenDoc & { _revisions?: RevisionPath };

/** The revision at generation `gen` on this leaf's path (`gen-hash`), or undefined if not on the path. */
export function revisionAt(path: RevisionPath, gen: number): string | undefined {
  const i = path.start - gen;
  if (i < 0 || i >= path.ids.length || gen < 1) return undefined;
  return `${gen}-${path.ids[i]}`;
}

/** The parent `_rev` of a leaf, or undefined for a first revision (or a path without history). */
export function parentRevision(path: RevisionPath): string | undefined {
  return revisionAt(path, path.start - 1);
}

/**
 * True when `leaf` is a locked claim revision written on a parent from which another leaf's branch also
 * grew: that claim cannot have been won at `w = n`, so nobody runs it.
 */
export function isUnconfirmedClaim(leaf: LeafDoc, leaves: readonly LeafDoc[]): boolean {
  const path = leaf._revisions;
  if (!path || tokenState(leaf) !== 'locked' || typeof leaf.claimed_from !== 'string') return false;
  const parent = parentRevision(path);
  if (parent === undefined || parent !== leaf.claimed_from) return false;
  const own = `${path.start}-${path.ids[0]}`;
  return leaves.some((other) => {
    const p = other._revisions;
    if (!p || other === leaf || `${p.start}-${p.ids[0]}` === own) return false;
    return revisionAt(p, path.start - 1) === parent && revisionAt(p, path.start) !== own;
  });
}
