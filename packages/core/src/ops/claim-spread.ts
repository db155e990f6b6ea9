/**
 * Where in the todo view a claimer reads its window (pure: no I/O).
 *
 * Pilots that all read the head of `todo_by_priority` fight over the same few tokens: all but one of them
 * lose each token (409), and each loss costs another view read. So a claimer reads its window at a random
 * point inside the highest-priority group instead of at the head. It starts spread out (pilots are usually
 * started together), goes back to the whole group whenever it meets other pilots' claims, and narrows
 * towards the head (oldest first) while it meets nobody.
 *
 * The random point is a key, not an offset. The keys are `[-priority, created]` (whole seconds), and rows of
 * one key are in document id order, so the tokens pushed within one second are a run of ids. A jump is
 * `startkey` = a run's key and a random `startkey_docid` between that run's first id and its last. Ids are
 * content hashes or numbered names, so a random id between the two lands evenly.
 *  - The oldest run of the top priority (the one that goes on past the head window) is known from the read
 *    at the head; its last id from one descending read of one key, made again every `lastRowEveryMs`.
 *  - While it spreads (it starts so, and goes back to it when pilots compete), a claimer also learns the
 *    runs after it, up to `MAX_RUNS` in all, one read of one key per claim round: the first row after a
 *    run's key, then that run's last row. Jumps then spread over all known runs, each by its share of the
 *    id space (`idSpan`: numbered ids by their number, content hashes alike), so 1,000 pilots do not all
 *    crowd into the oldest second's tokens (and into its end), while a pool pushed over several seconds
 *    has tokens in the next ones.
 *  - A jump that lands past its run (that second's tokens, at least above the random id, are gone) drops
 *    the run; when it was the oldest, the head is looked at again.
 * CouchDB walks every row of a `skip` (about 20 µs of Erlang time per skipped row on CouchDB 3.5, so a skip
 * of 2,000 costs as much as ten reads), while a key is found in the B-tree at once, however large the pool.
 *
 * Priorities still come first: a jump stays inside the top priority group (`endkey` = `[top, {}]`) learned
 * from the last read at the head, and a read at the head is made again regularly so a newly pushed higher
 * priority is seen within `headEveryMs`.
 */

export interface SpreadOptions {
  /** false: always read at the head (no jumps) */
  enabled: boolean;
  /** read at the head at least this often (ms) */
  headEveryMs: number;
  /** read the oldest run's last row again, and look for more runs after the last known, this often (ms); default 30 s */
  lastRowEveryMs?: number;
  random: () => number;
  now: () => number;
}

export type WindowPlan =
  /** the head of the view: highest priority, then oldest */
  | { kind: 'head'; limit: number }
  /** `limit` rows from a random key inside the group of keys starting with `top` */
  | { kind: 'jump'; limit: number; top: unknown; startkey: unknown[]; startkeyDocId: string };

/** A read of one key that teaches the spread about a run: its last row, or the first row of the next run. */
export interface LearnQuery {
  learn: { kind: 'last' | 'next'; created: number };
  query: Record<string, unknown>;
}

export interface ViewRowKey {
  key: unknown;
  id?: string;
}

/** The first element of a `[-priority, created]` key (the whole key if it is not an array). */
export function priorityOf(key: unknown): unknown {
  return Array.isArray(key) ? key[0] : key;
}

/** A row's place in the view: the key's second element (`created`) and the document id. */
interface Place {
  created: number;
  id: string;
}

function placeOf(row: ViewRowKey | undefined): Place | undefined {
  if (!row || !Array.isArray(row.key) || typeof row.key[1] !== 'number' || typeof row.id !== 'string') return undefined;
  return { created: row.key[1], id: row.id };
}

/** The tokens of one second in the top priority group: its first id, and its last once read. */
interface Run {
  created: number;
  first: string;
  last?: string;
  lastReadAt?: number;
}

/** Below this fraction of the group, a claimer reads at the head. */
const NARROWEST = 1 / 64;
/** the most runs (seconds) a claimer spreads over */
export const MAX_RUNS = 4;

export class ClaimSpread {
  /** current width of the jump range, as a fraction of the known runs (0: the head) */
  private width: number;
  /** claim rounds since this claimer last met contention (Infinity: never) */
  private calmRounds = Infinity;
  /**
   * the top priority group, from the last read at the head: `runs` are the seconds to jump into, oldest
   * first (the first is the one that goes on past the head window); `fits`: the whole group was in that
   * window; `endSeenAt`: when a look for a run after the last known found none
   */
  private top: { key: unknown; runs: Run[]; fits: boolean; readAt: number; endSeenAt?: number } | undefined;

  constructor(private readonly options: SpreadOptions) {
    this.width = options.enabled ? 1 : 0;
  }

  /** The current width of the jump range (a fraction of the known runs; 0: the head). */
  get spread(): number {
    return this.width;
  }

  /** Whether other pilots' claims got in the way within the last few rounds. */
  get crowded(): boolean {
    return this.calmRounds < 8;
  }

  /** The seconds (`created`) of the runs known in the top group, oldest first. */
  get runs(): number[] {
    return this.top?.runs.map((r) => r.created) ?? [];
  }

  /**
   * Whether the top priority group must be looked at first (a pilot's first read, and the regular look at
   * the head) before a jump: a read of keys only, since its documents would not be used.
   */
  needsProbe(): boolean {
    return this.width > 0 && (!this.top || this.options.now() - this.top.readAt >= this.options.headEveryMs);
  }

  /**
   * The next read of one key (no documents) that a jump needs, or undefined: the oldest run's last row when
   * it is not known or is old; then the first row after the last known run, or that run's last row.
   */
  learnQuery(): LearnQuery | undefined {
    const top = this.top;
    if (this.width === 0 || !top || top.fits || top.runs.length === 0) return undefined;
    const now = this.options.now();
    const every = this.options.lastRowEveryMs ?? 30_000;
    const last = (run: Run): LearnQuery => {
      const key = [top.key, run.created];
      return { learn: { kind: 'last', created: run.created }, query: { descending: true, startkey: key, endkey: key, limit: 1, include_docs: false } };
    };
    const oldest = top.runs[0]!;
    if (!oldest.last || now - oldest.lastReadAt! >= every) return last(oldest);
    const unread = top.runs.find((r) => !r.last);
    if (unread) return last(unread);
    if (top.runs.length >= MAX_RUNS || (top.endSeenAt !== undefined && now - top.endSeenAt < every)) return undefined;
    const after = top.runs.at(-1)!.created;
    // `[top, after, {}]` sorts after every row of `[top, after]` and before any later second
    return { learn: { kind: 'next', created: after }, query: { startkey: [top.key, after, {}], endkey: [top.key, {}], limit: 1, include_docs: false } };
  }

  /** What a `learnQuery` read showed. */
  observeLearned(q: LearnQuery, rows: readonly ViewRowKey[]): void {
    const top = this.top;
    if (!top) return;
    const row = rows[0];
    const place = row && priorityOf(row.key) === top.key ? placeOf(row) : undefined;
    if (q.learn.kind === 'last') {
      const run = top.runs.find((r) => r.created === q.learn.created);
      if (!run) return;
      // no row: that second's tokens are all taken
      if (!place || place.created !== run.created) this.dropRun(run.created);
      else Object.assign(run, { last: place.id, lastReadAt: this.options.now() });
      return;
    }
    if (!place || place.created <= q.learn.created) {
      top.endSeenAt = this.options.now();
      return;
    }
    if (top.runs.at(-1)?.created === q.learn.created) top.runs.push({ created: place.created, first: place.id });
  }

  /** The next read: at the head, or from a random key in one of the known runs of the top priority group. */
  plan(limit: number): WindowPlan {
    const top = this.top;
    const runs = top?.runs.filter((r) => r.last !== undefined) ?? [];
    // (a read at the head that is due comes first: needsProbe)
    if (this.width === 0 || !top || top.fits || runs.length === 0) return { kind: 'head', limit };
    // one random number picks the run (by its share of the ids) and the place in it, so a narrower spread
    // keeps to the oldest
    const shares = runs.map((r) => Math.max(idSpan(r.first, r.last!), Number.MIN_VALUE));
    let at = this.options.random() * this.width * shares.reduce((a, b) => a + b, 0);
    let i = 0;
    while (i < runs.length - 1 && at >= shares[i]!) at -= shares[i++]!;
    const run = runs[i]!;
    const id = idBetween(run.first, run.last!, Math.min(1, at / shares[i]!));
    return { kind: 'jump', limit, top: top.key, startkey: [top.key, run.created], startkeyDocId: id };
  }

  /**
   * What a read showed. Returns false when a jump landed past the run it aimed at (that second's tokens are
   * all taken, or the group ended): that run is dropped (the oldest: the head is looked at again).
   */
  observe(plan: WindowPlan, rows: readonly ViewRowKey[]): boolean {
    if (plan.kind === 'head') {
      if (rows.length === 0) {
        this.top = undefined;
        return true;
      }
      const key = priorityOf(rows[0]!.key);
      const inTop = rows.filter((r) => priorityOf(r.key) === key);
      // the group ends inside this window: there is nothing to spread over
      const fits = inTop.length < rows.length || rows.length < plan.limit;
      // the second whose tokens go on past this window, from its first row here
      const lastPlace = placeOf(inTop.at(-1));
      const first = lastPlace && placeOf(inTop.find((r) => placeOf(r)?.created === lastPlace.created));
      // what was learned of this group's later runs stays
      const known = this.top?.key === key ? this.top : undefined;
      const runs: Run[] = [];
      if (first) {
        const same = known?.runs.find((r) => r.created === first.created);
        runs.push(same?.last !== undefined && same.last >= first.id ? { ...same, first: first.id } : { created: first.created, first: first.id });
        runs.push(...(known?.runs.filter((r) => r.created > first.created) ?? []));
      }
      this.top = { key, runs, fits, readAt: this.options.now(), endSeenAt: known?.endSeenAt };
      return true;
    }
    // past the end of that second's run: its tokens are gone
    if (placeOf(rows[0])?.created !== plan.startkey[1]) {
      this.dropRun(plan.startkey[1]);
      return false;
    }
    return true;
  }

  /** Forgets a run whose tokens are gone; when it was the oldest, the head is looked at again. */
  private dropRun(created: unknown): void {
    const top = this.top;
    if (!top) return;
    if (top.runs[0]?.created === created) top.readAt = -Infinity;
    top.runs = top.runs.filter((r) => r.created !== created);
  }

  /**
   * After a claim round: the whole group on contention (lost claims, rows already taken), narrower after
   * eight calm rounds in a row.
   */
  contention(contended: boolean): void {
    this.calmRounds = contended ? 0 : this.calmRounds + 1;
    if (!this.options.enabled) return;
    // narrower only once no other pilot got in the way for a while
    if (contended) this.width = 1;
    else if (!this.crowded) this.width = this.width * 0.8 < NARROWEST ? 0 : this.width * 0.8;
  }
}

const DIGITS = '0123456789';
const HEX = '0123456789abcdef';
const LOWER = '0123456789abcdefghijklmnopqrstuvwxyz';
const ALNUM = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
/** characters interpolated after the common prefix */
const SPAN = 6;

/** Two ids as numbers after their common prefix (`SPAN` characters, in their own alphabet). */
function idScale(a: string, b: string) {
  if (a > b) [a, b] = [b, a];
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  const restA = a.slice(p, p + SPAN);
  const restB = b.slice(p, p + SPAN);
  const alphabet = [DIGITS, HEX, LOWER, ALNUM].find((set) => [...restA, ...restB].every((c) => set.includes(c))) ?? ALNUM;
  const value = (s: string) => {
    let v = 0;
    for (let i = 0; i < SPAN; i++) v = v * alphabet.length + Math.max(0, nearestIndex(alphabet, s[i]));
    return v;
  };
  return { prefix: a.slice(0, p), alphabet, va: value(restA), vb: value(restB) };
}

/** A string a fraction `u` of the way from `a` to `b` (in code-point order), after their common prefix. */
export function idBetween(a: string, b: string, u: number): string {
  const { prefix, alphabet, va, vb } = idScale(a, b);
  let v = Math.floor(va + Math.min(1, Math.max(0, u)) * (vb - va));
  const out: string[] = [];
  for (let i = 0; i < SPAN; i++) {
    out.unshift(alphabet[v % alphabet.length]!);
    v = Math.floor(v / alphabet.length);
  }
  return prefix + out.join('');
}

/**
 * The share of the id space between `a` and `b` (0 to 1): each character of common prefix divides it by the
 * alphabet's size. Numbered ids (`token_0`…`token_9999`) give shares in proportion to how many ids lie
 * between; content hashes give about the same share to every run, whatever its size.
 */
export function idSpan(a: string, b: string): number {
  const { prefix, alphabet, va, vb } = idScale(a, b);
  return ((vb - va) / alphabet.length ** SPAN) * alphabet.length ** -prefix.length;
}

/** The index of `c` in `alphabet`, or of the last character below it (-1 for none or a missing `c`). */
function nearestIndex(alphabet: string, c: string | undefined): number {
  if (c === undefined) return -1;
  let i = -1;
  for (let k = 0; k < alphabet.length; k++) if (alphabet[k]! <= c) i = k;
  return i;
}
