/**
 * Where in the todo view a claimer reads its window (pure: no I/O).
 *
 * Pilots that all read the head of `todo_by_priority` fight over the same few tokens: all but one of them
 * lose each token (409), and each loss costs another view read. So a claimer reads its window at a random
 * offset (`skip`) inside the highest-priority group instead of at the head. It starts spread out (pilots
 * are usually started together), goes back to the widest range whenever it meets other pilots' claims,
 * and narrows towards the head, where reads are cheapest, while it meets nobody.
 *
 * Priorities still come first: a spread read is limited to the top priority (`startkey`/`endkey` on the
 * key's first element) learned from the last read at the head, and a read at the head is made again
 * regularly so a newly pushed higher priority is seen within `headEveryMs`.
 */

export interface SpreadOptions {
  /** the widest random offset, in rows (CouchDB walks `skip` rows, so keep it to thousands) */
  maxSpread: number;
  /** read at the head at least this often (ms) */
  headEveryMs: number;
  random: () => number;
  now: () => number;
}

export type WindowPlan =
  /** the head of the view: highest priority, then oldest */
  | { kind: 'head'; limit: number }
  /** `limit` rows from `skip` rows into the group of keys starting with `top` */
  | { kind: 'spread'; limit: number; skip: number; top: unknown };

export interface ViewRowKey {
  key: unknown;
}

/** The first element of a `[-priority, created]` key (the whole key if it is not an array). */
export function priorityOf(key: unknown): unknown {
  return Array.isArray(key) ? key[0] : key;
}

export class ClaimSpread {
  /** current width of the random offset range (rows) */
  private width: number;
  /** claim rounds since this claimer last met contention (Infinity: never) */
  private calmRounds = Infinity;
  private top: { key: unknown; groupSize: number; readAt: number } | undefined;

  constructor(private readonly options: SpreadOptions) {
    this.width = options.maxSpread;
  }

  get spread(): number {
    return this.width;
  }

  /** Whether other pilots' claims got in the way within the last few rounds. */
  get crowded(): boolean {
    return this.calmRounds < 8;
  }

  /**
   * Whether the top priority group must be looked at first (a pilot's first read, and the regular look at
   * the head) before a spread read: a read of keys only, since its documents would not be used.
   */
  needsProbe(): boolean {
    return this.width > 0 && (!this.top || this.options.now() - this.top.readAt >= this.options.headEveryMs);
  }

  /** The next read: at the head, or at a random offset in the top priority group. */
  plan(limit: number): WindowPlan {
    const top = this.top;
    if (this.width === 0 || !top || this.options.now() - top.readAt >= this.options.headEveryMs) return { kind: 'head', limit };
    const range = Math.min(this.width, top.groupSize - limit);
    if (range < 1) return { kind: 'head', limit };
    return { kind: 'spread', limit, skip: Math.floor(this.options.random() * (range + 1)), top: top.key };
  }

  /**
   * What a read showed. Returns false when a spread read found nothing (the group is smaller than
   * thought): read at the head instead.
   */
  observe(plan: WindowPlan, rows: readonly ViewRowKey[], totalRows: number | undefined): boolean {
    if (plan.kind === 'head') {
      if (rows.length === 0) {
        this.top = undefined;
        return true;
      }
      const key = priorityOf(rows[0]!.key);
      const inTop = rows.filter((r) => priorityOf(r.key) === key).length;
      // the whole window in one priority: the group may reach the end of the view
      const groupSize = inTop === rows.length && rows.length >= plan.limit ? Math.max(inTop, totalRows ?? inTop) : inTop;
      this.top = { key, groupSize, readAt: this.options.now() };
      return true;
    }
    if (!this.top) return rows.length > 0;
    // fewer rows than asked: the group ends within this window
    if (rows.length < plan.limit) this.top.groupSize = plan.skip + rows.length;
    return rows.length > 0;
  }

  /** After a claim round: the widest range on contention (lost claims, rows already taken), narrower when alone. */
  contention(contended: boolean): void {
    this.width = contended ? this.options.maxSpread : Math.floor(this.width * 0.8);
    this.calmRounds = contended ? 0 : this.calmRounds + 1;
  }
}
