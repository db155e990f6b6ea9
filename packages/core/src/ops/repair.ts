/**
 * Repairs tokens split into conflicting revisions (on a cluster: claims that only got 202s; or edits
 * replicated from elsewhere). For each token listed by `_design/picas/_view/conflicts`:
 *
 * - read every leaf (`open_revs=all`) and the winner CouchDB picked (`conflicts=true`);
 * - leave it alone while any leaf is locked with a live lease (a pilot may still run it; it drops the token
 *   at its next heartbeat, after which the lease runs out), unless `force`. A leaf that is an unconfirmed
 *   claim (claim-proof.ts: a claim whose parent revision also grew another branch, so it never got its 201
 *   and nobody runs it) holds nothing: it is repaired at once, without `force` and without waiting;
 * - keep a finished result if a leaf has one (the work was done once); otherwise put the token back to todo
 *   (scrubbed: scrub_count + 1; or, when every locked leaf is an unconfirmed claim, unclaimed: nothing ran),
 *   with a note in events[];
 * - write that onto the winning revision (a PUT with its `_rev`), then delete every losing leaf
 *   (`_bulk_docs` with `_deleted: true` on each losing `_rev`).
 *
 * Idempotent and race-safe: every write carries the `_rev` it read, so a token that changed meanwhile
 * fails that write (409) and is left for the next run; a token already repaired has no conflicts left.
 */
import type { CouchHttp } from '../couch/http.js';
import { isUnconfirmedClaim, type LeafDoc } from '../claim-proof.js';
import { appendEvent, scrubbed, tokenState, unclaimed, type TokenDoc } from '../token.js';
import { readToken, writable } from './read-token.js';

export const CONFLICTS_VIEW = '_design/picas/_view/conflicts';

export interface RepairOptions {
  dryRun?: boolean;
  /** also repair tokens with a leaf that holds a live lease */
  force?: boolean;
  /** who repairs, recorded in events[] */
  actor?: string;
  /** read quorum for the leaves (`r`): on a cluster, every replica, so that no leaf is missed */
  r?: number;
  /** write quorum (`w`) for the repair's writes; a 202 then leaves the token to be checked again */
  w?: number;
  now?: () => number;
  signal?: AbortSignal;
}

export interface RepairedToken {
  id: string;
  /** leaf revisions found */
  leaves: number;
  /** revisions deleted */
  removed: string[];
  /** what the token is now */
  state: 'todo' | 'done' | 'error' | 'waiting' | 'blocked';
  note: string;
}

export interface RepairReport {
  /** tokens listed with conflicts */
  found: number;
  repaired: RepairedToken[];
  skipped: Array<{ id: string; reason: string }>;
  dryRun: boolean;
}

/** Number of tokens carrying conflicts (the reduce of the conflicts view). */
export async function countConflicts(http: CouchHttp, signal?: AbortSignal): Promise<number> {
  const body = await http.expectOk<{ rows?: Array<{ value: number }> }>({ path: http.dbPath(`/${CONFLICTS_VIEW}`), signal }, 'counting tokens with conflicts');
  return body.rows?.[0]?.value ?? 0;
}

export async function repairConflicts(http: CouchHttp, options: RepairOptions = {}): Promise<RepairReport> {
  const report: RepairReport = { found: 0, repaired: [], skipped: [], dryRun: !!options.dryRun };
  let startkey: string | undefined;
  for (;;) {
    const body = await http.expectOk<{ rows?: Array<{ id: string }> }>(
      { path: http.dbPath(`/${CONFLICTS_VIEW}`), query: { reduce: false, limit: 500, startkey, skip: startkey === undefined ? undefined : 1 }, signal: options.signal },
      'listing tokens with conflicts',
    );
    const rows = body.rows ?? [];
    for (const row of rows) {
      report.found++;
      const result = await repairToken(http, row.id, options);
      if ('skipped' in result) report.skipped.push({ id: row.id, reason: result.skipped });
      else report.repaired.push(result);
    }
    if (rows.length < 500) break;
    startkey = rows[rows.length - 1]!.id;
  }
  return report;
}

/** Repairs one token; returns what was done, or why it was left alone. */
export async function repairToken(http: CouchHttp, id: string, options: RepairOptions = {}): Promise<RepairedToken | { skipped: string }> {
  const nowMs = (options.now ?? Date.now)();
  const winner = await readToken(http, id, { signal: options.signal });
  if (!winner) return { skipped: 'deleted meanwhile' };
  const leaves = await readLeaves(http, id, options.signal, options.r);
  const losers = leaves.filter((leaf) => leaf._rev !== winner._rev);
  if (losers.length === 0) return { skipped: 'no conflicts left (repaired meanwhile)' };
  const unconfirmed = new Set(leaves.filter((leaf) => isUnconfirmedClaim(leaf, leaves)).map((leaf) => leaf._rev));
  if (!options.force) {
    const live = leaves.find((leaf) => tokenState(leaf) === 'locked' && !unconfirmed.has(leaf._rev) && typeof leaf.lease_until === 'number' && leaf.lease_until * 1000 > nowMs);
    if (live) {
      return { skipped: `revision ${live._rev} is locked by ${live.worker_id ?? 'a worker'} with a lease until ${new Date(live.lease_until! * 1000).toISOString()} (use --force to repair anyway)` };
    }
  }
  const actor = options.actor ?? 'picas repair';
  const keep = [winner, ...losers].find((leaf) => leaf.lock > 0 && leaf.done > 0);
  let next: TokenDoc;
  let note: string;
  if (keep) {
    const source = keep._rev === winner._rev ? writable(winner) : await readRevisionWithAttachments(http, id, keep._rev!, options.signal);
    note = `repaired: ${losers.length} conflicting revision(s) removed (${losers.map((l) => l._rev).join(', ')}); kept the finished result of revision ${keep._rev}`;
    next = { ...source, events: appendEvent(source, { time: Math.floor(nowMs / 1000), event: 'repaired', message: note, worker_id: actor }) };
  } else if ([winner, ...losers].every((leaf) => ['waiting', 'blocked'].includes(tokenState(leaf)))) {
    // a token that waits for its dependencies (docs/dag.md) stays waiting: todo would run it too early
    note = `repaired: ${losers.length} conflicting revision(s) removed (${losers.map((l) => l._rev).join(', ')}); still ${tokenState(winner)}`;
    const source = writable(winner);
    next = { ...source, events: appendEvent(source, { time: Math.floor(nowMs / 1000), event: 'repaired', message: note, worker_id: actor }) };
  } else if (leaves.every((leaf) => tokenState(leaf) !== 'locked' || unconfirmed.has(leaf._rev)) && unconfirmed.size > 0) {
    note = `repaired: ${losers.length} conflicting revision(s) removed (${losers.map((l) => l._rev).join(', ')}); unconfirmed claims (no 201 at w=n), never run: back to todo`;
    const base = writable(stripRevisions(winner));
    next = tokenState(base) === 'locked' ? unclaimed(base, note, nowMs, actor) : { ...base, events: appendEvent(base, { time: Math.floor(nowMs / 1000), event: 'repaired', message: note, worker_id: actor }) };
  } else {
    note = `repaired: ${losers.length} conflicting revision(s) removed (${losers.map((l) => l._rev).join(', ')}); back to todo`;
    next = scrubbed(writable(winner), 'repaired', note, nowMs, actor);
  }
  const state = tokenState(next) as RepairedToken['state'];
  const removed = losers.map((l) => l._rev!);
  if (options.dryRun) return { id, leaves: leaves.length, removed, state, note };
  next._id = id;
  next._rev = winner._rev;
  const put = await http.request({ method: 'PUT', path: http.docPath(id), query: { w: options.w }, body: next, signal: options.signal });
  if (put.status === 409) return { skipped: 'changed while repairing; run picas repair again' };
  if (put.status === 202 && options.w !== undefined) return { skipped: `the repair was accepted by only some replicas (202 at w=${options.w}); checked again after replication` };
  if (put.status >= 300) throw http.errorFor(put, `repairing token ${id}`);
  const deletions = removed.map((rev) => ({ _id: id, _rev: rev, _deleted: true }));
  const results = await http.expectOk<Array<{ ok?: boolean; error?: string }>>(
    { method: 'POST', path: http.dbPath('/_bulk_docs'), query: { w: options.w }, body: { docs: deletions }, signal: options.signal },
    `removing conflicting revisions of token ${id}`,
  );
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) return { skipped: `${failed.length} losing revision(s) changed while repairing; run picas repair again` };
  return { id, leaves: leaves.length, removed, state, note };
}

/** Every live (not deleted) leaf revision of a document, each with its revision path (`_revisions`). */
export async function readLeaves(http: CouchHttp, id: string, signal?: AbortSignal, r?: number): Promise<LeafDoc[]> {
  const body = await http.expectOk<Array<{ ok?: LeafDoc; missing?: string }>>(
    { path: http.docPath(id), query: { open_revs: 'all', revs: true, r }, headers: { accept: 'application/json' }, signal },
    `reading the revisions of token ${id}`,
  );
  return body.flatMap((entry) => (entry.ok && !entry.ok._deleted ? [entry.ok] : []));
}

function stripRevisions(doc: TokenDoc & { _revisions?: unknown }): TokenDoc {
  const { _revisions, ...rest } = doc;
  void _revisions;
  return rest as TokenDoc;
}

/** A losing revision with its attachments inline, so its content can be written onto the winning branch. */
async function readRevisionWithAttachments(http: CouchHttp, id: string, rev: string, signal?: AbortSignal): Promise<TokenDoc> {
  const doc = await http.expectOk<TokenDoc>({ path: http.docPath(id), query: { rev, attachments: true }, signal }, `reading revision ${rev} of token ${id}`);
  return writable(doc);
}
