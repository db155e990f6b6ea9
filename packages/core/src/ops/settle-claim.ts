/**
 * Settles a claim that was only accepted (202 at `w = n`, not won), or that got no clear answer (a timeout, a
 * dropped connection, a 5xx: the server may have applied it all the same): nobody runs such a token, and its
 * lease must not keep it from running. Called by the claimer's pilot once internal replication has had time
 * to merge the replicas (`[mem3] sync_delay`, about 5 s):
 *
 * - the leaves are read from every replica (`open_revs=all`, `r = n`);
 * - several leaves: the claims split the token; `repairToken` resolves it at once, since unconfirmed claims
 *   hold nothing (claim-proof.ts);
 * - our claim is the only leaf (a replica answered too late, or a node is down): we withdraw it, back to
 *   todo without a scrub, with a write fenced by its `_rev`;
 * - any other single leaf is not ours to touch (another pilot's claim, or the token moved on).
 *
 * Anything uncertain (a 409 meanwhile, or a write that itself got only a 202) is `retry`: check again later.
 */
import type { CouchHttp } from '../couch/http.js';
import { tokenState, unclaimed } from '../token.js';
import { readLeaves, repairToken } from './repair.js';
import { writable } from './read-token.js';

export interface UnconfirmedClaim {
  id: string;
  claimId: string;
  /** when the claim was answered (ms) */
  atMs: number;
  /** what the claim got: a 202, or no clear answer (default: a 202) */
  answer?: 'accepted' | 'none';
}

export type SettleOutcome =
  | { outcome: 'repaired' | 'withdrawn'; message: string }
  | { outcome: 'settled'; message: string }
  | { outcome: 'retry'; message: string };

export async function settleUnconfirmedClaim(
  http: CouchHttp,
  claim: Pick<UnconfirmedClaim, 'id' | 'claimId' | 'answer'>,
  options: { actor: string; r?: number; w?: number; now?: () => number; signal?: AbortSignal },
): Promise<SettleOutcome> {
  const { id } = claim;
  const leaves = await readLeaves(http, id, options.signal, options.r);
  if (leaves.length === 0) return { outcome: 'settled', message: 'the token was deleted' };
  if (leaves.length > 1) {
    const result = await repairToken(http, id, { actor: options.actor, r: options.r, w: options.w, now: options.now, signal: options.signal });
    if ('skipped' in result) {
      // a pilot that won it meanwhile, or a leaf with a real lease, are not ours to settle
      if (/no conflicts left|deleted meanwhile|with a lease until/.test(result.skipped)) return { outcome: 'settled', message: result.skipped };
      return { outcome: 'retry', message: result.skipped };
    }
    return { outcome: 'repaired', message: result.note };
  }
  const leaf = leaves[0]!;
  if (leaf.claim_id !== claim.claimId || tokenState(leaf) !== 'locked') return { outcome: 'settled', message: 'not held by this claim' };
  const { _revisions, ...doc } = leaf;
  void _revisions;
  const message =
    claim.answer === 'none'
      ? `claim ${claim.claimId} got no clear answer (timeout or server error) but was applied; never run: withdrawn`
      : `claim ${claim.claimId} was only accepted by some replicas (202), never run: withdrawn`;
  const body = { ...unclaimed(writable(doc), message, (options.now ?? Date.now)(), options.actor), _rev: leaf._rev };
  const res = await http.request({ method: 'PUT', path: http.docPath(id), query: { w: options.w }, body, signal: options.signal });
  if (res.status === 201 || (res.status === 202 && options.w === undefined)) return { outcome: 'withdrawn', message };
  if (res.status === 202 || res.status === 409) return { outcome: 'retry', message: `withdrawing answered ${res.status}` };
  throw http.errorFor(res, `withdrawing the unconfirmed claim of token ${id}`);
}
