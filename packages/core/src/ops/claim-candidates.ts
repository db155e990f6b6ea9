/**
 * The candidates a claimer tries (claim.ts, step 1): a window of `_design/picas_claim/_view/todo_by_priority`,
 * whose values are the tokens, read where the spread plan puts it (claim-spread.ts), plus locked tokens whose
 * lease expired, from `locked_by_lease`, when reclaiming. Within each priority they come in random order.
 * Whether a candidate can still be claimed is decided on the document (claim.ts), not here.
 */
import type { CouchHttp } from '../couch/http.js';
import { NotFoundError } from '../errors.js';
import type { TokenDoc } from '../token.js';
import { priorityOf, type ClaimSpread, type WindowPlan } from './claim-spread.js';
import { ShapeReader, type ClaimRoom } from './claim-shapes.js';
import type { ClaimStats } from './claim-stats.js';

export const TODO_VIEW = '_design/picas_claim/_view/todo_by_priority';
export const LEASE_VIEW = '_design/picas/_view/locked_by_lease';

export interface Candidate {
  doc: TokenDoc;
  expired: boolean;
}

export interface CandidateReaderOptions {
  http: CouchHttp;
  /** also read locked tokens whose lease expired */
  reclaimExpired: boolean;
  /** while todo tokens remain, look for expired leases at most this often (ms); default 30 s */
  expiredCheckMs?: number;
  spread: ClaimSpread;
  /** counts view reads and spread reads */
  stats: ClaimStats;
  random: () => number;
  now: () => number;
}

export class CandidateReader {
  private lastReadAt = 0;
  private lastTodoRows?: number;
  private nextExpiredCheck = 0;
  /** false once the todo view turned out to be the older one, whose rows carry no token */
  private todoDocsInView = true;
  /** tokens beyond one core (claim-shapes.ts) */
  readonly shapes: ShapeReader;

  constructor(private readonly options: CandidateReaderOptions) {
    this.shapes = new ShapeReader({ http: options.http, stats: options.stats, now: options.now });
  }

  /** When the last window was read. */
  get readAt(): number {
    return this.lastReadAt;
  }

  /** Todo tokens in the pool at the last read (the view's total_rows). */
  get todoRows(): number | undefined {
    return this.lastTodoRows;
  }

  /**
   * Reads candidates: expired leases (when due), the one-core todo window, and, given the pilot's `room`,
   * the windows of the larger shapes that fit it (claim-shapes.ts). Within each priority the larger shapes
   * come first (so they get the room when there is some), then the one-core tokens, shuffled.
   */
  async read(limit: number, signal?: AbortSignal, room?: ClaimRoom): Promise<Candidate[]> {
    const nowMs = this.options.now();
    this.lastReadAt = nowMs;
    const oneCore = await this.readTodo(limit, signal);
    const shaped = room ? await this.shapes.read(room, limit, oneCore.length === 0, signal) : [];
    const todo = shaped.length === 0 ? oneCore : mergeByPriority(shaped, oneCore, this.options.random);
    let expired: Array<{ key: unknown; doc?: TokenDoc }> = [];
    if (this.options.reclaimExpired && (todo.length === 0 || nowMs >= this.nextExpiredCheck)) {
      this.nextExpiredCheck = nowMs + (this.options.expiredCheckMs ?? 30_000);
      expired = (await this.readView(LEASE_VIEW, { endkey: Math.floor(nowMs / 1000), limit }, signal)).rows;
    }
    const out: Candidate[] = [];
    for (const row of shuffle(expired, this.options.random)) if (row.doc) out.push({ doc: row.doc, expired: true });
    for (const group of groupByPriority(todo)) for (const row of shaped.length ? group : shuffle(group, this.options.random)) if (row.doc) out.push({ doc: row.doc, expired: false });
    return out;
  }

  /**
   * The todo window where the spread plan puts it. When the top priority group must be looked at first (a
   * pilot's first read, and the regular look at the head), that look reads keys only: pilots started
   * together would otherwise all claim from the same head window. A jump also needs its run's last row,
   * and while the claimer spreads it learns the runs after it (one key per round, see claim-spread.ts). A
   * jump past the end of its run jumps again, once.
   */
  private async readTodo(limit: number, signal?: AbortSignal) {
    const read = async (plan: WindowPlan, query: Record<string, unknown> = {}) => {
      const r = await this.readView(TODO_VIEW, { ...planQuery(plan), ...query }, signal);
      if (plan.kind === 'jump') this.options.stats.spreadReads++;
      this.lastTodoRows = r.total_rows;
      return { ...r, found: this.options.spread.observe(plan, r.rows) };
    };
    for (let tries = 0; ; tries++) {
      if (this.options.spread.needsProbe()) {
        const probe = await read({ kind: 'head', limit }, { include_docs: false, conflicts: undefined });
        if (probe.rows.length === 0) return [];
      }
      const learn = this.options.spread.learnQuery();
      if (learn) this.options.spread.observeLearned(learn, (await this.readView(TODO_VIEW, { ...learn.query, conflicts: undefined }, signal)).rows);
      const plan = this.options.spread.plan(limit);
      const window = await read(plan);
      if (window.found) return window.rows;
      if (tries > 0) return (await read({ kind: 'head', limit })).rows;
    }
  }

  private async readView(view: string, query: Record<string, unknown>, signal?: AbortSignal): Promise<{ rows: Array<{ key: unknown; id: string; doc?: TokenDoc }>; total_rows?: number }> {
    const http = this.options.http;
    // todo_by_priority holds each token as its value (see design-docs.ts): no include_docs needed, unless
    // the database still has the older view (emitting null) because `picas init` has not been run since
    const docsInView = view === TODO_VIEW && this.todoDocsInView && query.include_docs !== false;
    this.options.stats.viewReads++;
    const res = await http.request<{ total_rows?: number; rows?: Array<{ key: unknown; id: string; value?: unknown; doc?: TokenDoc }> }>({
      path: http.dbPath(`/${view}`),
      query: { include_docs: true, conflicts: true, reduce: undefined, ...query, ...(docsInView ? { include_docs: undefined, conflicts: undefined } : {}) } as Record<string, string | number | boolean | undefined>,
      signal,
    });
    if (res.status >= 500 || res.status === 429) throw http.errorFor(res, `reading ${view}`);
    if (res.status === 404 && (res.body as { reason?: string })?.reason !== 'Database does not exist.') {
      throw new NotFoundError(`database '${http.db}' has no ${view.split('/_view/')[0]} views (missing ${view}): run picas init`);
    }
    if (res.status !== 200) throw http.errorFor(res, `reading ${view}`);
    const rows = res.body.rows ?? [];
    if (!docsInView) return { rows, total_rows: res.body.total_rows };
    if (rows.some((r) => r.value === null || typeof r.value !== 'object')) {
      this.todoDocsInView = false;
      return this.readView(view, query, signal);
    }
    return { rows: rows.map((r) => ({ key: r.key, id: r.id, doc: r.value as TokenDoc })), total_rows: res.body.total_rows };
  }
}

function planQuery(plan: WindowPlan): Record<string, unknown> {
  if (plan.kind === 'head') return { limit: plan.limit };
  return { limit: plan.limit, startkey: plan.startkey, startkey_docid: plan.startkeyDocId, endkey: [plan.top, {}] };
}

/**
 * Shape rows (key [cpus, gpus, mem, -priority, created]) and one-core rows (key [-priority, created]) in one
 * list, by priority: within each, the shapes first (largest first, as read), then the one-core rows, shuffled.
 */
function mergeByPriority(shaped: Array<{ key: unknown; id: string; doc: TokenDoc }>, oneCore: Array<{ key: unknown; id: string; doc?: TokenDoc }>, random: () => number) {
  const rows = [...shaped.map((r) => ({ key: (r.key as unknown[]).slice(3), id: r.id, doc: r.doc, shaped: true })), ...oneCore.map((r) => ({ ...r, shaped: false }))];
  const priority = (key: unknown) => Number(priorityOf(key)) || 0;
  // a stable sort: each view's own order stays within a priority
  rows.sort((a, b) => priority(a.key) - priority(b.key) || Number(b.shaped) - Number(a.shaped));
  return groupByPriority(rows).flatMap((group) => [...group.filter((r) => r.shaped), ...shuffle(group.filter((r) => !r.shaped), random)]);
}

function groupByPriority<T extends { key: unknown }>(rows: T[]): T[][] {
  const groups: T[][] = [];
  let last: unknown = Symbol('none');
  for (const row of rows) {
    const p = priorityOf(row.key);
    if (p !== last || groups.length === 0) {
      groups.push([]);
      last = p;
    }
    groups[groups.length - 1]!.push(row);
  }
  return groups;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
