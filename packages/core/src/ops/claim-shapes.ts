/**
 * The tokens beyond one core (resources.ts), as a claimer sees them: `_design/picas_claim/_view/todo_by_shape`,
 * keyed [cpus, gpus, mem, -priority, created]. Its `_count` reduce at `group_level=3` lists the shapes
 * waiting and how many of each; a claim then reads a window of only the shapes that fit what the pilot has
 * free now, so tokens it cannot run, however many sort before, are never read.
 *
 * Server cost: a pool of one-core tokens emits nothing into this view. The shape list is read again at
 * most every `refreshMs` (30 s, or the room's `reserveAfterMs` when shorter), and when the one-core window
 * came back empty (at most every `emptyMs`, 2 s), so a pilot never leaves while a shape it could run waits,
 * and the claims of a one-core pool read no more than before. Shapes that fit the pilot only when it is
 * empty have their head token read at each refresh: one that waited longer than `reserveAfterMs` is
 * offered to the claim even though it does not fit now, so the pilot can reserve room for it (the worker
 * decides, see capacity.ts).
 */
import type { CouchHttp } from '../couch/http.js';
import { fitsInto, shapeFromKey, shapeKey, type Resources } from '../resources.js';
import type { TokenDoc } from '../token.js';
import type { ClaimStats } from './claim-stats.js';

export const SHAPE_VIEW = '_design/picas_claim/_view/todo_by_shape';

/** What the pilot has, for a claim: free now, and in all (free when empty). */
export interface ClaimRoom {
  now: Resources;
  empty: Resources;
  /** a token of a shape that fits only when empty, waiting longer than this (ms), is offered anyway */
  reserveAfterMs?: number;
}

export interface ShapeCount {
  shape: Resources;
  count: number;
}

export interface ShapeRow {
  key: unknown;
  id: string;
  doc: TokenDoc;
}

/** The most shape windows read in one claim (largest shapes first). */
const MAX_SHAPES_PER_READ = 3;

export class ShapeReader {
  private counts: ShapeCount[] = [];
  private countsAt = -Infinity;
  /** heads of shapes that fit only when empty, read at the last refresh, that waited too long */
  private starved: ShapeRow[] = [];
  /** false once the database turned out to have no todo_by_shape (picas init not run since) */
  private viewExists = true;

  constructor(
    private readonly options: {
      http: CouchHttp;
      stats: ClaimStats;
      now: () => number;
      refreshMs?: number;
      emptyMs?: number;
    },
  ) {}

  /** The shapes waiting at the last look (none before the first). */
  get shapes(): readonly ShapeCount[] {
    return this.counts;
  }

  /**
   * Rows of the shapes that fit `room.now` (and the starved heads, when reserving is on): read when the
   * shape list is due, or when `defaultEmpty` (the one-core window had nothing) and it is a little old.
   */
  async read(room: ClaimRoom, limit: number, defaultEmpty: boolean, signal?: AbortSignal): Promise<ShapeRow[]> {
    if (!this.viewExists) return [];
    const nowMs = this.options.now();
    const age = nowMs - this.countsAt;
    // a token that waits longer than --reserve-after is looked for at least that often
    const refreshMs = Math.min(this.options.refreshMs ?? 30_000, room.reserveAfterMs ?? Infinity);
    if (age >= refreshMs || (defaultEmpty && age >= (this.options.emptyMs ?? 2000))) {
      await this.refresh(room, signal);
    }
    const fitting = this.counts
      .filter((c) => c.count > 0 && fitsInto(c.shape, room.now))
      .sort((a, b) => b.shape.cpus - a.shape.cpus || b.shape.gpus - a.shape.gpus || b.shape.mem - a.shape.mem)
      .slice(0, MAX_SHAPES_PER_READ);
    const rows: ShapeRow[] = [];
    for (const { shape } of fitting) {
      const key = shapeKey(shape);
      rows.push(...(await this.readRows({ startkey: key, endkey: [...key, {}], limit }, signal)));
    }
    const starved = this.starved.filter((r) => !rows.some((x) => x.id === r.id));
    this.starved = [];
    return [...starved, ...rows];
  }

  /** Forget the shape list: the next read looks again (after waiting for new tokens). */
  forget(): void {
    this.countsAt = -Infinity;
  }

  private async refresh(room: ClaimRoom, signal?: AbortSignal): Promise<void> {
    const { http, stats } = this.options;
    stats.viewReads++;
    const res = await http.request<{ rows?: Array<{ key: unknown; value: number }> }>({ path: http.dbPath(`/${SHAPE_VIEW}`), query: { group_level: 3 }, signal });
    if (res.status === 404) {
      // a database whose views predate resources: every token is in todo_by_priority
      this.viewExists = false;
      return;
    }
    if (res.status !== 200) throw http.errorFor(res, `reading ${SHAPE_VIEW}`);
    this.countsAt = this.options.now();
    this.counts = (res.body.rows ?? []).flatMap((r) => {
      const shape = shapeFromKey(r.key);
      return shape ? [{ shape, count: r.value }] : [];
    });
    this.starved = [];
    if (room.reserveAfterMs === undefined) return;
    const waitingSince = this.countsAt - room.reserveAfterMs;
    for (const { shape } of this.counts.filter((c) => fitsInto(c.shape, room.empty) && !fitsInto(c.shape, room.now))) {
      const key = shapeKey(shape);
      const [head] = await this.readRows({ startkey: key, endkey: [...key, {}], limit: 1 }, signal);
      const created = Array.isArray(head?.key) ? Number(head.key[4]) : NaN;
      if (head && created * 1000 <= waitingSince) this.starved.push(head);
    }
  }

  private async readRows(query: Record<string, unknown>, signal?: AbortSignal): Promise<ShapeRow[]> {
    const { http, stats } = this.options;
    stats.viewReads++;
    const res = await http.request<{ rows?: Array<{ key: unknown; id: string; value: TokenDoc }> }>({
      path: http.dbPath(`/${SHAPE_VIEW}`),
      query: { reduce: false, ...query } as Record<string, string | number | boolean | undefined>,
      signal,
    });
    if (res.status !== 200) throw http.errorFor(res, `reading ${SHAPE_VIEW}`);
    return (res.body.rows ?? []).filter((r) => r.value && typeof r.value === 'object').map((r) => ({ key: r.key, id: r.id, doc: r.value }));
  }
}
