/**
 * Claiming a token: the one place that decides whether this worker won a token.
 *
 * 1. Read a window of candidates from `_design/picas_claim/_view/todo_by_priority`, whose values are the tokens
 *    (plus locked tokens whose lease expired, from `locked_by_lease`, when reclaiming): at the
 *    head, or, once other pilots' claims get in the way, from a random key in the top priority group
 *    (claim-spread.ts; the reading itself is claim-candidates.ts).
 * 2. Try them in random order within each priority, checking each on the document we got (view rows can
 *    be stale): a token, todo (or an expired lease), and a single leaf (no `_conflicts`).
 * 3. PUT the locked document with exactly the `_rev` we read, a body unique to this claim (`claim_id` =
 *    worker id + nonce) and `w` = the number of replicas.
 *
 * Only a 201 is a win. On a cluster a 201 at `w=n` means every replica took this edit before any
 * competitor's; a 202 means some did not, and internal replication may still make another writer the
 * winner, so a 202 is never run. A 409 means someone else got it (next candidate). A timeout or 5xx is
 * not won either, but the server may have applied it all the same (an answer lost on the way back). Both kinds
 * are kept in `unconfirmed` until the pilot settles them (settle-claim.ts): such a claim holds no lease that
 * anybody honours, the claim body's `claimed_from` lets repair prove it, and a claim that landed unseen is
 * withdrawn instead of staying locked, unrun, until its lease runs out.
 */
import { randomBytes } from 'node:crypto';
import type { CouchHttp } from '../couch/http.js';
import { UnreachableError } from '../errors.js';
import { leaseExpired, lockedBy, scrubbed, type ClaimInfo, type TokenDoc } from '../token.js';
import { hasConflicts, writable } from './read-token.js';
import { ClaimSpread } from './claim-spread.js';
import { CandidateReader, type Candidate } from './claim-candidates.js';
import type { ClaimRoom, ShapeCount } from './claim-shapes.js';
import { ClaimLatency, emptyClaimStats, type ClaimStats } from './claim-stats.js';
import type { UnconfirmedClaim } from './settle-claim.js';

/** what a claim is told about the pilot's room, and the shapes it reports */
export type { ClaimRoom, ShapeCount } from './claim-shapes.js';
/** the claimer's counters, where the pilot imports them with the Claimer */
export { emptyClaimStats, type ClaimStats } from './claim-stats.js';

export interface ClaimerOptions {
  http: CouchHttp;
  workerId: string;
  hostname: string;
  leaseMs: number;
  /** candidates read per view query */
  window: number;
  /** also claim locked tokens whose lease expired */
  reclaimExpired: boolean;
  /** `w` for claim writes; undefined on a single node (see replicas.ts) */
  w?: number;
  /** claim several tokens in one `_bulk_docs` (only where a bulk "ok" proves a win: n = 1 or a lowered quorum) */
  bulkAllowed?: boolean;
  jobId?: { field: string; value: string };
  /** extra fields recorded on claimed tokens (Slurm array ids) */
  extra?: Record<string, unknown>;
  /** while todo tokens remain, look for expired leases at most this often (ms); default 30 s */
  expiredCheckMs?: number;
  /** read at random keys in the top priority group when claims collide (claim-spread.ts); false: always at the head */
  spread?: boolean;
  random?: () => number;
  now?: () => number;
}

export type ClaimAttempt =
  | { status: 'won'; doc: TokenDoc; reclaimed: boolean }
  /** 202: some replicas took the edit, not all: not a win */
  | { status: 'accepted'; id: string; claimId: string }
  /** 409: someone else changed it first */
  | { status: 'conflict' }
  /** timeout, network error, 5xx: not a win, though the server may have applied it (`id` set: settle it) */
  | { status: 'error'; error: Error; id?: string; claimId?: string };

export type ClaimOutcome =
  /** at least one token won */
  | 'won'
  /** nothing claimable right now */
  | 'empty'
  /** claims were only accepted (202): contention on a cluster, or a replica that cannot be reached */
  | 'accepted'
  /** candidates exist but none passed `accept` (e.g. the time budget) */
  | 'unfit'
  /** every candidate was taken by others before us, several windows in a row */
  | 'contended'
  /** CouchDB did not answer (network error, timeout, 5xx) */
  | 'unavailable';

export interface ClaimRound {
  outcome: ClaimOutcome;
  won: Array<{ doc: TokenDoc; reclaimed: boolean }>;
  /** the first candidate rejected by `accept`, so the caller can say why */
  unfitExample?: TokenDoc;
  error?: Error;
  /** 'contended': how long to wait before the next try (ms), longer the more rounds in a row were lost */
  retryAfterMs?: number;
}

type Claimability = 'todo' | 'expired' | 'stale' | 'conflicted';

/** Whether the document we read (not the view row) can be claimed. */
export function claimability(doc: TokenDoc | undefined, reclaimExpired: boolean, nowMs: number): Claimability {
  if (!doc || doc.type !== 'token' || doc._deleted) return 'stale';
  if (hasConflicts(doc)) return 'conflicted';
  if (doc.lock == 0 && doc.done == 0) return 'todo';
  if (reclaimExpired && leaseExpired(doc, nowMs)) return 'expired';
  return 'stale';
}

/** The document a claim writes: locked by us; an expired lease is scrubbed first (scrub_count + 1, event). */
export function claimBody(doc: TokenDoc, claim: ClaimInfo, expired: boolean): TokenDoc {
  const nowMs = claim.now ?? Date.now();
  let base = writable(doc);
  if (expired) {
    const since = typeof doc.lease_until === 'number' ? new Date(doc.lease_until * 1000).toISOString() : 'unknown';
    base = scrubbed(base, 'lease_expired', `lease of ${doc.worker_id ?? 'a worker'} expired at ${since}; reclaimed by ${claim.workerId}`, nowMs, claim.workerId);
  }
  const body = lockedBy(base, claim);
  body._rev = doc._rev;
  if (doc._rev) body.claimed_from = doc._rev;
  return body;
}

export function newClaimId(workerId: string): string {
  return `${workerId}:${randomBytes(6).toString('hex')}`;
}

/** One claim write, with its clear answer. */
export async function claimDocument(http: CouchHttp, doc: TokenDoc, claim: ClaimInfo, options: { expired?: boolean; w?: number; signal?: AbortSignal } = {}): Promise<ClaimAttempt> {
  const body = claimBody(doc, claim, options.expired ?? false);
  let res;
  try {
    res = await http.request<{ rev?: string }>({ method: 'PUT', path: http.docPath(doc._id), query: { w: options.w }, body, signal: options.signal, timeoutMs: 30_000 });
  } catch (err) {
    if (err instanceof UnreachableError) return { status: 'error', error: err, id: doc._id, claimId: claim.claimId };
    throw err;
  }
  if (res.status === 201) return { status: 'won', doc: { ...body, _rev: res.body.rev! }, reclaimed: options.expired ?? false };
  if (res.status === 202) return { status: 'accepted', id: doc._id, claimId: claim.claimId };
  if (res.status === 409) return { status: 'conflict' };
  if (res.status >= 500 || res.status === 429) return { status: 'error', error: http.errorFor(res, `claiming token ${doc._id}`), id: doc._id, claimId: claim.claimId };
  // 401/403/404 (database gone) and other 4xx are not claim races: report them
  throw http.errorFor(res, `claiming token ${doc._id}`);
}

export class Claimer {
  readonly stats: ClaimStats = emptyClaimStats();
  private readonly latencies = new ClaimLatency();
  private cached: Candidate[] = [];
  /** when the cached window was read */
  private cachedAt = 0;
  /** claim rounds in a row that lost every candidate to other pilots */
  private contendedInARow = 0;
  /**
   * tokens this claimer won lately, with the revision each claim was written on: a view row still showing that
   * revision (an index updated before our own claim) would only earn a 409; a later revision (the token was
   * put back to todo) is claimable again (bounded, oldest dropped first)
   */
  private readonly recentlyWon = new Map<string, string | undefined>();
  /** claims answered 202: not run, to be settled once replication had time (settle-claim.ts) */
  private unconfirmed: UnconfirmedClaim[] = [];
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly spread: ClaimSpread;
  private readonly candidates: CandidateReader;

  constructor(private readonly options: ClaimerOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.spread = new ClaimSpread({ enabled: options.spread ?? true, headEveryMs: 2000, random: this.random, now: this.now });
    const { http, reclaimExpired, expiredCheckMs } = options;
    this.candidates = new CandidateReader({ http, reclaimExpired, expiredCheckMs, spread: this.spread, stats: this.stats, random: this.random, now: this.now });
  }

  /** A new claim's identity: unique per claim, so two claimants never write identical revisions. */
  claimInfo(): ClaimInfo {
    const o = this.options;
    return { workerId: o.workerId, claimId: newClaimId(o.workerId), hostname: o.hostname, leaseMs: o.leaseMs, now: this.now(), jobId: o.jobId, extra: o.extra };
  }

  /** Claim latency percentiles (ms) over the rounds that won. */
  latency(): { n: number; p50: number; p99: number } {
    return this.latencies.percentiles();
  }

  /** The claims answered 202 since the last call (the caller settles them). */
  takeUnconfirmed(): UnconfirmedClaim[] {
    return this.unconfirmed.splice(0);
  }

  /** Forget cached candidates and the shapes seen (e.g. after waiting for new tokens). */
  forget(): void {
    this.cached = [];
    this.candidates.shapes.forget();
  }

  /** The shapes beyond one core waiting in the pool at the last look (claim-shapes.ts). */
  get shapes(): readonly ShapeCount[] {
    return this.candidates.shapes.shapes;
  }

  /**
   * Tries to win up to `max` tokens (more than one only with `bulkAllowed`). `accept` filters candidates
   * (the time budget); a rejected candidate is not claimed.
   */
  async claim(options: { max?: number; accept?: (doc: TokenDoc) => boolean; signal?: AbortSignal; room?: ClaimRoom } = {}): Promise<ClaimRound> {
    // among competing pilots, a bulk claim takes a fair share of what is left
    const share = this.spread.crowded ? fairShare(this.candidates.todoRows) : Infinity;
    const max = this.options.bulkAllowed ? Math.max(1, Math.min(options.max ?? 1, share)) : 1;
    const startedMs = performance.now();
    let unfitExample: TokenDoc | undefined;
    // while pilots compete, rows read a while ago were likely taken since: read again instead of losing a claim
    const crowded = this.spread.crowded;
    let candidates = crowded && this.now() - this.cachedAt > CROWDED_CACHE_MS ? [] : this.cached;
    this.cached = [];
    const limit = crowded ? Math.max(Math.min(this.options.window, CROWDED_WINDOW), max * 2) : Math.max(this.options.window, max * 2);
    for (let reads = 0; ; ) {
      if (candidates.length === 0) {
        // while pilots compete, hand back soon so that the caller waits a little before the next try
        if (reads >= (crowded ? 2 : 5)) return { outcome: 'contended', won: [], retryAfterMs: contendedBackoffMs(++this.contendedInARow, this.random) };
        reads++;
        try {
          candidates = await this.candidates.read(limit, options.signal, options.room);
        } catch (err) {
          if (err instanceof UnreachableError) return { outcome: 'unavailable', won: [], error: err };
          throw err;
        }
        if (candidates.length === 0) return { outcome: 'empty', won: [] };
      }
      let contended = false;
      let stale = 0;
      let ownRows = 0;
      const ready: Candidate[] = [];
      /** candidates `accept` turned down (no room yet, say): kept, in order, with the window for the next claim */
      const turnedDown: Candidate[] = [];
      while (candidates.length > 0 && ready.length < max) {
        const c = candidates.shift()!;
        if (!c.expired && this.recentlyWon.has(c.doc._id) && this.recentlyWon.get(c.doc._id) === c.doc._rev) {
          // our own claim, in a row from before it: not another pilot's doing, so no contention
          ownRows++;
          continue;
        }
        const state = claimability(c.doc, this.options.reclaimExpired, this.now());
        if (state === 'conflicted') {
          this.stats.conflictedSkipped++;
          continue;
        }
        if (state === 'stale') {
          this.stats.staleRows++;
          stale++;
          contended = true;
          continue;
        }
        if (options.accept && !options.accept(c.doc)) {
          unfitExample ??= c.doc;
          turnedDown.push(c);
          continue;
        }
        ready.push({ doc: c.doc, expired: state === 'expired' });
      }
      if (ready.length === 0) {
        // a cached window is from before the pilot's room changed: what fits now is read afresh
        if (unfitExample && reads === 0) continue;
        if (unfitExample) return { outcome: 'unfit', won: [], unfitExample };
        // stale rows: read a fresh window; only conflicted tokens: nothing to claim until they are repaired
        if (stale > 0) {
          this.spread.contention(true);
          continue;
        }
        if (ownRows > 0) continue;
        return { outcome: 'empty', won: [] };
      }
      // the claim write itself is not cut short by `signal`: a claim the server applied must be seen as won,
      // so that the caller can put the token back (an unseen win would stay locked until its lease expires)
      const result = max === 1 ? await this.claimOne(ready[0]!) : await this.claimBulk(ready);
      contended ||= result.conflicts > 0;
      this.spread.contention(contended);
      if (result.won.length > 0) {
        // an uncontended window is kept for the next claim (saves a view read per token), with what this
        // claim turned down (the larger tokens beyond its room start the next one); a contended one is stale
        if (!contended) {
          this.cached = [...turnedDown, ...candidates];
          this.cachedAt = this.candidates.readAt;
        }
        this.latencies.record(performance.now() - startedMs);
        this.contendedInARow = 0;
        return { outcome: 'won', won: result.won };
      }
      if (result.accepted > 0) return { outcome: 'accepted', won: [] };
      if (result.error) return { outcome: 'unavailable', won: [], error: result.error };
      // lost to another worker: the rest of this window was read at the same moment and is likely taken too
      candidates = [];
    }
  }

  private async claimOne(c: Candidate) {
    this.stats.attempts++;
    this.stats.writes++;
    const attempt = await claimDocument(this.options.http, c.doc, this.claimInfo(), { expired: c.expired, w: this.options.w });
    return this.tally([attempt]);
  }

  /** Several claims in one `_bulk_docs`: each document wins or fails on its own `_rev`. */
  private async claimBulk(ready: Candidate[]) {
    const http = this.options.http;
    const bodies = ready.map((c) => claimBody(c.doc, this.claimInfo(), c.expired));
    this.stats.attempts += bodies.length;
    this.stats.writes++;
    let res;
    try {
      res = await http.request<Array<{ id: string; rev?: string; ok?: boolean; error?: string }>>({
        method: 'POST',
        path: http.dbPath('/_bulk_docs'),
        query: { w: this.options.w },
        body: { docs: bodies },
        timeoutMs: 30_000,
      });
    } catch (err) {
      if (err instanceof UnreachableError) return this.tally(bodies.map((b) => ({ status: 'error', error: err, id: b._id, claimId: b.claim_id })));
      throw err;
    }
    if (res.status >= 500 || res.status === 429) {
      const error = http.errorFor(res, 'claiming tokens');
      return this.tally(bodies.map((b) => ({ status: 'error', error, id: b._id, claimId: b.claim_id })));
    }
    if (res.status !== 201 && res.status !== 202) throw http.errorFor(res, 'claiming tokens');
    const attempts: ClaimAttempt[] = bodies.map((body, i) => {
      const row = res.body.find((r) => r.id === body._id) ?? res.body[i];
      if (row?.ok && row.rev) return { status: 'won', doc: { ...body, _rev: row.rev }, reclaimed: ready[i]!.expired };
      if (row?.error === 'conflict') return { status: 'conflict' };
      return { status: 'error', error: new Error(`claim of ${body._id} failed: ${row?.error ?? 'no answer'}`), id: body._id, claimId: body.claim_id };
    });
    return this.tally(attempts);
  }

  private tally(attempts: ClaimAttempt[]) {
    const won: Array<{ doc: TokenDoc; reclaimed: boolean }> = [];
    let conflicts = 0;
    let accepted = 0;
    let error: Error | undefined;
    for (const a of attempts) {
      if (a.status === 'won') {
        won.push({ doc: a.doc, reclaimed: a.reclaimed });
        this.recentlyWon.delete(a.doc._id);
        this.recentlyWon.set(a.doc._id, a.doc.claimed_from);
        if (this.recentlyWon.size > 1024) this.recentlyWon.delete(this.recentlyWon.keys().next().value!);
        this.stats.won++;
        if (a.reclaimed) this.stats.reclaimed++;
      } else if (a.status === 'conflict') {
        conflicts++;
        this.stats.conflicts++;
      } else if (a.status === 'accepted') {
        accepted++;
        this.stats.accepted++;
        this.unconfirmed.push({ id: a.id, claimId: a.claimId, atMs: this.now(), answer: 'accepted' });
      } else {
        error ??= a.error;
        this.stats.errors++;
        // no clear answer: the claim may have been applied, so it is settled like a 202
        if (a.id && a.claimId) this.unconfirmed.push({ id: a.id, claimId: a.claimId, atMs: this.now(), answer: 'none' });
      }
    }
    return { won, conflicts, accepted, error };
  }

}

/**
 * The wait after the `n`-th contended round in a row: random (so competing pilots spread out), up to 70 ms
 * after the first and doubling to about 2 s, so that many pilots fighting over the last tokens of a pool
 * do not flood the server with claims that can only lose.
 */
export function contendedBackoffMs(n: number, random: () => number): number {
  return 20 + random() * Math.min(2000, 50 * 2 ** Math.max(0, n - 1));
}

/** While pilots compete: a cached window older than this is read again (ms), and windows are this small (rows). */
const CROWDED_CACHE_MS = 1000;
const CROWDED_WINDOW = 8;

/**
 * The most tokens one bulk claim may take from a pool of `todo` while other pilots compete: a 32nd of it
 * (at least one). Near the end of a pool, a pilot that took a large batch would collide with the others
 * and then leave them idle.
 */
export function fairShare(todo: number | undefined): number {
  return todo === undefined ? Infinity : Math.max(1, Math.floor(todo / 32));
}

