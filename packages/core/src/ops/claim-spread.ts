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
 * one key are in document id order, so the tokens pushed within one second (the oldest such second of
 * the top priority, as the head shows it) are a run of ids: a jump is `startkey` = that key and a random
 * `startkey_docid` between the run's first id (from the read at the head) and its last (one descending read
 * of one key, made again every `lastRowEveryMs`). Ids are content hashes or numbered names, so a random id
 * between the two lands evenly. A jump that lands past that second's run (its tokens are gone) looks at the
 * head again and jumps into the next second's run.
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
  /** read the top group's last row again at least this often (ms); default 30 s */
  lastRowEveryMs?: number;
  random: () => number;
  now: () => number;
}

export type WindowPlan =
  /** the head of the view: highest priority, then oldest */
  | { kind: 'head'; limit: number }
  /** `limit` rows from a random key inside the group of keys starting with `top` */
  | { kind: 'jump'; limit: number; top: unknown; startkey: unknown[]; startkeyDocId: string };

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

/** Below this fraction of the group, a claimer reads at the head. */
const NARROWEST = 1 / 64;

export class ClaimSpread {
  /** current width of the jump range, as a fraction of the top group (0: the head) */
  private width: number;
  /** claim rounds since this claimer last met contention (Infinity: never) */
  private calmRounds = Infinity;
  /**
   * the top priority group, from the last read at the head: `run` is the first row of the oldest second's
   * tokens that goes on past that window; `fits`: the whole group was in that window
   */
  private top: { key: unknown; run: Place | undefined; fits: boolean; readAt: number } | undefined;
  /** the last row of that second's run, from a descending read */
  private last: { key: unknown; place: Place; readAt: number } | undefined;

  constructor(private readonly options: SpreadOptions) {
    this.width = options.enabled ? 1 : 0;
  }

  /** The current width of the jump range (a fraction of the top group; 0: the head). */
  get spread(): number {
    return this.width;
  }

  /** Whether other pilots' claims got in the way within the last few rounds. */
  get crowded(): boolean {
    return this.calmRounds < 8;
  }

  /**
   * Whether the top priority group must be looked at first (a pilot's first read, and the regular look at
   * the head) before a jump: a read of keys only, since its documents would not be used.
   */
  needsProbe(): boolean {
    return this.width > 0 && (!this.top || this.options.now() - this.top.readAt >= this.options.headEveryMs);
  }

  /**
   * The read of the run's last row (descending, one key, no documents), when a jump needs it and it is not
   * known or is old; undefined when not needed.
   */
  lastRowQuery(): Record<string, unknown> | undefined {
    const top = this.top;
    if (this.width === 0 || !top || top.fits || !top.run) return undefined;
    if (this.lastOfRun() && this.options.now() - this.last!.readAt < (this.options.lastRowEveryMs ?? 30_000)) return undefined;
    const key = [top.key, top.run.created];
    return { descending: true, startkey: key, endkey: key, limit: 1, include_docs: false };
  }

  /** What the descending read of the last row showed. */
  observeLastRow(rows: readonly ViewRowKey[]): void {
    const place = placeOf(rows[0]);
    const key = rows[0] ? priorityOf(rows[0].key) : undefined;
    this.last = place ? { key, place, readAt: this.options.now() } : undefined;
  }

  /** The known last row of the top group's run, if it is that run's. */
  private lastOfRun(): Place | undefined {
    const top = this.top;
    const last = this.last;
    return top?.run && last && last.key === top.key && last.place.created === top.run.created ? last.place : undefined;
  }

  /** The next read: at the head, or from a random key in the top priority group. */
  plan(limit: number): WindowPlan {
    const top = this.top;
    const last = this.lastOfRun();
    // (a read at the head that is due comes first: needsProbe)
    if (this.width === 0 || !top?.run || top.fits || !last) return { kind: 'head', limit };
    const id = idBetween(top.run.id, last.id, this.options.random() * this.width);
    return { kind: 'jump', limit, top: top.key, startkey: [top.key, top.run.created], startkeyDocId: id };
  }

  /**
   * What a read showed. Returns false when a jump landed past the run it aimed at (that second's tokens are
   * all taken, or the group ended): look at the head again, and jump again.
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
      const run = lastPlace && placeOf(inTop.find((r) => placeOf(r)?.created === lastPlace.created));
      this.top = { key, run, fits, readAt: this.options.now() };
      return true;
    }
    // past the end of that second's run: its tokens are gone; the head is looked at again
    if (placeOf(rows[0])?.created !== plan.startkey[1]) {
      this.top = undefined;
      return false;
    }
    return true;
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

/** A string a fraction `u` of the way from `a` to `b` (in code-point order), after their common prefix. */
export function idBetween(a: string, b: string, u: number): string {
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
  const va = value(restA);
  const vb = value(restB);
  let v = Math.floor(va + Math.min(1, Math.max(0, u)) * (vb - va));
  const out: string[] = [];
  for (let i = 0; i < SPAN; i++) {
    out.unshift(alphabet[v % alphabet.length]!);
    v = Math.floor(v / alphabet.length);
  }
  return a.slice(0, p) + out.join('');
}

/** The index of `c` in `alphabet`, or of the last character below it (-1 for none or a missing `c`). */
function nearestIndex(alphabet: string, c: string | undefined): number {
  if (c === undefined) return -1;
  let i = -1;
  for (let k = 0; k < alphabet.length; k++) if (alphabet[k]! <= c) i = k;
  return i;
}
