/**
 * Moves tokens that wait for others (docs/dag.md):
 *  - release: waiting → todo once every dependency is done;
 *  - block:   waiting → blocked when a dependency ended in error, is blocked itself, or is gone; the block
 *             spreads down the graph, always naming the root (the failed or deleted token);
 *  - unblock: blocked → waiting when that root is retried.
 *
 * Every write is a PUT with the `_rev` that was read (and on a cluster the claim's write quorum `w`).
 * On a 409 the token is read again and the decision made again, so two pilots releasing the same token is
 * harmless: the second finds it todo already and writes nothing.
 *
 * Taking a released token: the completing pilot may ask for the dependents it releases (`take`). Such a token
 * goes from waiting straight to locked by that pilot, in one write that is the release and the claim at once
 * (claim.ts' claimBody on the released token: the same claim id, lease and `claimed_from`). A chain then
 * costs one revision less per step, needs no view read to be found, and its next step runs where the
 * previous one just wrote its files. As for claims, only a 201 is a win: a 202 at `w = n` is handed back as
 * unconfirmed, for the pilot to settle (settle-claim.ts).
 *
 * Who calls what: the pilot that completed a token with `has_dependents` calls releaseDependents (exit 0) or
 * blockDependents (final error) right away; pilots whose pool looks empty, the pilots' repair interval and
 * `picas repair` call sweepWaiting, which finds waiting tokens whose dependencies are all done (a pilot
 * killed between its completion and the release) or failed; `picas retry` calls unblockDependents;
 * `picas delete --force` calls blockDependents with the deletion as the reason.
 */
import type { CouchHttp } from '../couch/http.js';
import { isTransient } from '../couch/errors.js';
import { blocked, dependenciesOf, released, tokenState, unblocked, type ClaimInfo, type TokenDoc } from '../token.js';
import { claimBody } from './claim.js';
import { dependencyNodes, waitingDependentsOf, waitingTokens, type DependencyNode } from './dependencies.js';
import { hasConflicts, readToken, writable } from './read-token.js';

export interface DependencyWriteOptions {
  /** write quorum, as for claims (ops/replicas claimWriteQuorum); undefined on a single node */
  w?: number;
  /** who did it, recorded in events[] */
  actor?: string;
  signal?: AbortSignal;
  now?: () => number;
}

export interface SettleReport {
  /** released to todo, or taken (see `taken`) */
  released: string[];
  /** released and claimed by the caller in the same write (201): the caller runs them */
  taken: TokenDoc[];
  /**
   * released and claimed, but only accepted (202 at w = n), or with no clear answer (a timeout, a 5xx: it may have
   * been applied): the caller settles them (settle-claim.ts)
   */
  unconfirmed: Array<{ id: string; claimId: string; answer: 'accepted' | 'none' }>;
  blocked: string[];
  /** tokens left waiting (some dependency still todo, locked or waiting) */
  waiting: number;
}

/** writes in flight while settling many tokens */
const WRITE_LANES = 8;

export const emptySettleReport = (): SettleReport => ({ released: [], taken: [], unconfirmed: [], blocked: [], waiting: 0 });

export function mergeSettleReports(into: SettleReport, more: SettleReport): SettleReport {
  into.released.push(...more.released);
  into.taken.push(...more.taken);
  into.unconfirmed.push(...more.unconfirmed);
  into.blocked.push(...more.blocked);
  into.waiting += more.waiting;
  return into;
}

type Decision = { kind: 'release'; message: string } | { kind: 'block'; root: string; reason: string } | { kind: 'wait' };

/** What a waiting token should become, given its dependencies' states. */
export function decide(doc: Pick<TokenDoc, 'depends_on'>, nodes: ReadonlyMap<string, DependencyNode>): Decision {
  const deps = dependenciesOf(doc);
  let waiting = false;
  for (const dep of deps) {
    const node = nodes.get(dep);
    const state = node?.state ?? 'missing';
    if (state === 'done') continue;
    if (state === 'error' || state === 'other') return { kind: 'block', root: dep, reason: `dependency ${dep} failed` };
    if (state === 'missing') return { kind: 'block', root: dep, reason: `dependency ${dep} does not exist (deleted?)` };
    if (state === 'blocked') {
      const root = node?.blockedBy ?? dep;
      return { kind: 'block', root, reason: `dependency ${dep} is blocked by ${root}` };
    }
    waiting = true;
  }
  if (waiting) return { kind: 'wait' };
  return { kind: 'release', message: deps.length === 1 ? `dependency ${deps[0]} is done` : `all ${deps.length} dependencies are done` };
}

/**
 * Writes `change` onto the token with its `_rev`; on a 409 re-reads and asks `change` again (it answers
 * undefined when nothing is to be done any more). What this call wrote (with its new `_rev` and the status,
 * 201 or 202), or undefined.
 */
async function rewrite(
  http: CouchHttp,
  doc: TokenDoc,
  change: (doc: TokenDoc) => TokenDoc | undefined,
  options: DependencyWriteOptions,
): Promise<{ doc: TokenDoc; status: number } | undefined> {
  let current: TokenDoc | undefined = doc;
  for (let attempt = 0; attempt < 10 && current; attempt++) {
    const next = change(current);
    if (!next) return undefined;
    const body = writable(next);
    body._rev = current._rev;
    const res = await http.request<{ rev?: string }>({ method: 'PUT', path: http.docPath(current._id), query: { w: options.w }, body, signal: options.signal });
    if (res.status === 201 || res.status === 202) return { doc: { ...body, _rev: res.body?.rev ?? body._rev }, status: res.status };
    if (res.status !== 409) throw http.errorFor(res, `writing token ${current._id}`);
    current = await readToken(http, current._id, { signal: options.signal });
  }
  return undefined;
}

/**
 * Decides and writes for waiting tokens. `known` holds dependency states already known (e.g. the token just
 * completed, as done); the others are read in one go. Blocks spread to the blocked tokens' own dependents.
 */
export async function settleWaiting(
  http: CouchHttp,
  docs: readonly TokenDoc[],
  options: DependencyWriteOptions & { known?: ReadonlyMap<string, DependencyNode>; take?: TakeReleased } = {},
): Promise<SettleReport> {
  const report = emptySettleReport();
  const candidates = docs.filter((d) => tokenState(d) === 'waiting');
  if (candidates.length === 0) return report;
  const known = options.known ?? new Map<string, DependencyNode>();
  const unknown = new Set<string>();
  for (const doc of candidates) for (const dep of dependenciesOf(doc)) if (!known.has(dep)) unknown.add(dep);
  const nodes = new Map([...known, ...(unknown.size > 0 ? await dependencyNodes(http, unknown, options.signal) : [])]);
  const nowMs = () => (options.now ?? Date.now)();
  const settle = async (doc: TokenDoc) => {
    const decision = decide(doc, nodes);
    if (decision.kind === 'wait') {
      report.waiting++;
      return;
    }
    if (decision.kind === 'release') {
      let claim: ClaimInfo | undefined;
      let taking = false;
      let wrote: Awaited<ReturnType<typeof rewrite>>;
      try {
        wrote = await rewrite(
          http,
          doc,
          (cur) => {
            if (tokenState(cur) !== 'waiting') return undefined;
            const next = released(cur, decision.message, nowMs(), options.actor);
            // a split token (several leaves) is released for any pilot, never taken: only a single leaf is claimed.
            // `take` is asked once per token: a write retried after a 409 keeps the same claim
            taking = !hasConflicts(cur) && !!(claim ??= options.take?.(next));
            return taking ? claimBody({ ...next, _rev: cur._rev }, claim!, false) : next;
          },
          options,
        );
      } catch (err) {
        // a take with no clear answer (a timeout, a 5xx) may have been applied: the caller settles it, as a claim
        if (!taking || !isTransient(err)) throw err;
        report.unconfirmed.push({ id: doc._id, claimId: claim!.claimId, answer: 'none' });
        return;
      }
      if (!wrote) return;
      report.released.push(doc._id);
      if (taking && wrote.status === 201) report.taken.push(wrote.doc);
      else if (taking) report.unconfirmed.push({ id: doc._id, claimId: claim!.claimId, answer: 'accepted' });
      return;
    }
    const wrote = await rewrite(http, doc, (cur) => (tokenState(cur) === 'waiting' ? blocked(cur, decision.root, decision.reason, nowMs(), options.actor) : undefined), options);
    if (wrote) {
      report.blocked.push(doc._id);
      if (doc.has_dependents) mergeSettleReports(report, await blockDependents(http, doc._id, decision.root, `dependency ${doc._id} is blocked by ${decision.root}`, options));
    }
  };
  // a fan-out releases many tokens at once: a few writes in flight
  let next = 0;
  const lane = async () => {
    while (next < candidates.length) await settle(candidates[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_LANES, candidates.length) }, lane));
  return report;
}

/**
 * Asked for each token about to be released: the claim to write it with (the caller takes it and runs it),
 * or undefined to release it to todo for any pilot.
 */
export type TakeReleased = (token: TokenDoc) => ClaimInfo | undefined;

/**
 * The completing pilot, after `parent` was written as done: its dependents whose dependencies are all done become
 * todo, or, those that `take` asks for, locked by the caller.
 */
export async function releaseDependents(http: CouchHttp, parentId: string, options: DependencyWriteOptions & { take?: TakeReleased } = {}): Promise<SettleReport> {
  // The index is read as it stands: waiting for it to take in every pilot's latest writes (two per token) cost
  // more than the release itself on a busy server, and a token's dependents were indexed long before it ran.
  // Listed with their documents as they are now, so a dependent released meanwhile is seen as such. When none
  // is listed (the push was a moment ago, or they were released already), the index is brought up to date.
  let dependents = await waitingDependentsOf(http, parentId, options.signal, { lazy: true });
  if (!dependents.some((d) => tokenState(d) === 'waiting')) dependents = await waitingDependentsOf(http, parentId, options.signal);
  return settleWaiting(http, dependents, { ...options, known: new Map([[parentId, { state: 'done', dependsOn: [] }]]) });
}

/**
 * `parentId` failed for good, was deleted, or is blocked: its waiting dependents become blocked, naming
 * `root`, and so do theirs, down the graph.
 */
export async function blockDependents(http: CouchHttp, parentId: string, root: string, reason: string, options: DependencyWriteOptions = {}): Promise<SettleReport> {
  const report = emptySettleReport();
  const queue: Array<{ id: string; reason: string }> = [{ id: parentId, reason }];
  const seen = new Set<string>([parentId]);
  const nowMs = () => (options.now ?? Date.now)();
  while (queue.length > 0) {
    const { id, reason: why } = queue.shift()!;
    for (const doc of await waitingDependentsOf(http, id, options.signal)) {
      if (seen.has(doc._id)) continue;
      seen.add(doc._id);
      const wrote = await rewrite(http, doc, (cur) => (tokenState(cur) === 'waiting' ? blocked(cur, root, why, nowMs(), options.actor) : undefined), options);
      if (!wrote) continue;
      report.blocked.push(doc._id);
      if (doc.has_dependents) queue.push({ id: doc._id, reason: `dependency ${doc._id} is blocked by ${root}` });
    }
  }
  return report;
}

/** `picas retry` of `root`: every token blocked because of it waits again (and is settled at once). */
export async function unblockDependents(http: CouchHttp, root: string, options: DependencyWriteOptions = {}): Promise<SettleReport & { unblocked: string[] }> {
  const docs: TokenDoc[] = [];
  for await (const doc of waitingTokens(http, 'blocked', { root, signal: options.signal })) docs.push(doc);
  const unblockedIds: string[] = [];
  const nowMs = () => (options.now ?? Date.now)();
  const waitingNow: TokenDoc[] = [];
  for (const doc of docs) {
    let written: TokenDoc | undefined;
    const wrote = await rewrite(
      http,
      doc,
      (cur) => {
        if (tokenState(cur) !== 'blocked' || cur.blocked_by?.id !== root) return undefined;
        written = unblocked(cur, `dependency ${root} was retried`, nowMs(), options.actor);
        return written;
      },
      options,
    );
    if (wrote && written) {
      unblockedIds.push(doc._id);
      waitingNow.push(written);
    }
  }
  // another dependency may have failed meanwhile; a token whose dependencies are all done goes to todo
  const fresh = await Promise.all(waitingNow.map((d) => readToken(http, d._id, { signal: options.signal })));
  const settled = await settleWaiting(http, fresh.filter((d): d is TokenDoc => !!d), options);
  return { ...settled, unblocked: unblockedIds };
}

/**
 * The sweep: every waiting token is settled (released when its dependencies are all done, blocked when one
 * failed). Finds what a pilot killed between its completion and the release left behind.
 */
export async function sweepWaiting(http: CouchHttp, options: DependencyWriteOptions & { limit?: number } = {}): Promise<SettleReport> {
  const report = emptySettleReport();
  let batch: TokenDoc[] = [];
  for await (const doc of waitingTokens(http, 'waiting', { limit: options.limit, signal: options.signal })) {
    batch.push(doc);
    if (batch.length >= 500) {
      mergeSettleReports(report, await settleWaiting(http, batch, options));
      batch = [];
    }
  }
  if (batch.length > 0) mergeSettleReports(report, await settleWaiting(http, batch, options));
  return report;
}
