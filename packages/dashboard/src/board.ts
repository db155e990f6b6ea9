/**
 * What the dashboard shows, kept on the server and refreshed part by part:
 *   counts    state counts from PiCaS' Monitor/overview_total (plus any extra states `picas status` reports,
 *             e.g. waiting/blocked, and conflicts, from a full status read every 15 s), the progress, the
 *             recent rate and the ETA
 *   chart     tokens finished (done, error) over the run's span, binned to fit it, and their running
 *             total (chart-reader.ts, chart-bins.ts), from picas_dashboard/finished_by_minute
 *   failures  the newest failed tokens from picas_dashboard/failures, with the last lines of their stderr
 *   pilots    the pilot records (pilot-rows.ts)
 *   autoscaler  the `picas autoscale` controller's state document, when there is one (autoscaler-panel.ts)
 *
 * The `_changes` feed only marks parts dirty; one loop refreshes them, one view read per turn of the read
 * gate (at most one a second), the counts every other turn while tokens change, so a change reaches the
 * page within about two seconds however busy the pool is. Each refreshed part is pushed to the listeners
 * (the server-sent-event clients); a new client gets the cached parts at once, without any read.
 */
import { FailureRows } from './failure-rows.js';
import { AUTOSCALER_DOC_ID, backoffDelay, DASHBOARD_DESIGN, pilotLostAt, redactText, sameViews, type Couch, type Logger } from '@picas/core';
import { stateCounts, tokenStatus } from '@picas/core/ops/status';
import type { ShapeTally } from '@picas/core/ops/todo-shapes';
import { listPilots } from '@picas/core/ops/list-pilots';
import { CouchReach } from './couch-reach.js';
import { ReadGate } from './read-gate.js';
import { openGatedCouch } from './gated-couch.js';
import { readChart } from './chart-reader.js';
import { pilotTableRow } from './pilot-rows.js';
import { readAutoscalerPanel } from './autoscaler-panel.js';

export type Part = 'counts' | 'extras' | 'pilots' | 'failures' | 'chart' | 'autoscaler';
const PARTS: readonly Part[] = ['counts', 'pilots', 'autoscaler', 'failures', 'chart', 'extras'];

export interface BoardUpdate {
  event: string;
  data: unknown;
}

interface PartState {
  dirty: boolean;
  last: number;
  retryAt: number;
  failures: number;
  /** at least this long between two refreshes */
  minIntervalMs: number;
  /** refreshed this often even without changes (pilots turn lost without writing; the chart's minute rolls) */
  everyMs?: number;
}

const MONITOR_STATES = ['todo', 'locked', 'done', 'error'] as const;
/** the window of the recent rate (and so of the ETA) */
const RATE_WINDOW_MS = 5 * 60_000;

export interface BoardOptions {
  /** the CouchDB base address without credentials, for links to Fauxton */
  publicUrl: string;
  log?: Logger;
  /** strings never sent to a browser (the password, the user name) */
  secrets: string[];
  /** at least this long between two view reads (default 1000 ms) */
  readIntervalMs?: number;
}

export class Board {
  readonly gate: ReadGate;
  readonly couch: Couch;
  /** whether CouchDB answers (the reads here, and the `_changes` feed, report to it) */
  readonly reach: CouchReach;
  private readonly parts: Record<Part, PartState>;
  private readonly cache = new Map<string, unknown>();
  private readonly listeners = new Set<(u: BoardUpdate) => void>();
  private readonly stopper = new AbortController();
  private readonly problems: Record<string, string> = {};
  private wake?: () => void;
  private loopDone?: Promise<void>;
  private lastPicked?: Part;
  private samples: Array<{ t: number; finished: number }> = [];
  private states?: Record<string, number>;
  private extras: { states: Record<string, number>; conflicts: number | null; todoByShape?: ShapeTally[] } = { states: {}, conflicts: null };
  private chartRate?: number;
  /** when the first running pilot would turn lost (pilotLostAt): read the records again then (renewed, or lost) */
  private pilotsRecheckAt = Infinity;
  private readonly failures = new FailureRows();

  constructor(
    private readonly config: Couch['config'],
    private readonly options: BoardOptions,
  ) {
    this.gate = new ReadGate(options.readIntervalMs ?? 1000);
    this.couch = openGatedCouch(config, this.gate);
    const part = (minIntervalMs: number, everyMs?: number): PartState => ({ dirty: true, last: 0, retryAt: 0, failures: 0, minIntervalMs, everyMs });
    this.parts = { counts: part(0), extras: part(15_000, 60_000), pilots: part(0, 15_000), failures: part(2_000), chart: part(5_000, 30_000), autoscaler: part(0, 30_000) };
    const base = options.publicUrl.replace(/\/+$/, '');
    this.reach = new CouchReach((state) => {
      this.publish('couch', state);
      if (state.reachable) this.reconnected();
    }, options.secrets);
    this.publish('couch', this.reach.state);
    this.publish('meta', { db: config.db, fauxton: `${base}/_utils/#/database/${encodeURIComponent(config.db)}/`, readIntervalMs: options.readIntervalMs ?? 1000 });
  }

  /**
   * Checks the database once (a missing database or a refused login fails here, with its exit code), installs
   * the dashboard's design document if missing, and starts the refresh loop.
   */
  async start(): Promise<void> {
    const http = this.couch.http;
    await http.expectOk({ path: http.dbPath() }, `opening database '${this.config.db}'`);
    await this.ensureDesign();
    this.loopDone ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.wake?.();
    await this.loopDone;
    await this.couch.close();
  }

  /** Every cached part, in paint order (counts first). */
  snapshot(): BoardUpdate[] {
    const order = ['meta', 'couch', 'counts', 'pilots', 'autoscaler', 'failures', 'chart', 'problems'];
    return order.filter((e) => this.cache.has(e)).map((event) => ({ event, data: this.cache.get(event) }));
  }

  subscribe(listener: (u: BoardUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The `_changes` feed's news: which parts to read again. */
  changed(ids: readonly string[]): void {
    let tokens = false;
    let pilots = false;
    let designs = false;
    for (const id of ids) {
      if (id === AUTOSCALER_DOC_ID) this.parts.autoscaler.dirty = true;
      else if (id.startsWith('pilot:')) pilots = true;
      else if (id.startsWith('_design/')) designs = true;
      else tokens = true;
    }
    if (tokens || designs) this.parts.counts.dirty = true;
    if (pilots || designs) this.parts.pilots.dirty = true;
    if (designs) for (const p of PARTS) this.parts[p].dirty = true;
    this.wake?.();
  }

  /** A log of a token, for the "whole log" view: its stdout or stderr attachment as text. */
  async log(id: string, stream: 'out' | 'err'): Promise<string | undefined> {
    const http = this.couch.http;
    const res = await http.request<Buffer>({ path: http.docPath(id, `logs_${id}.${stream}`), raw: true, timeoutMs: 30_000 });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw http.errorFor(res, `reading the ${stream === 'err' ? 'stderr' : 'stdout'} of ${id}`);
    return (res.body as Buffer).toString('utf8');
  }

  /** CouchDB answers again: every part is read again now, not after its backoff (the page shows them stale until then). */
  private reconnected(): void {
    for (const p of PARTS) {
      this.parts[p].dirty = true;
      this.parts[p].retryAt = 0;
    }
    this.wake?.();
  }

  private publish(event: string, data: unknown): void {
    this.cache.set(event, data);
    for (const l of this.listeners) l({ event, data });
  }

  private problem(part: Part, err: unknown): void {
    const before = this.problems[part];
    if (err === undefined) delete this.problems[part];
    else this.problems[part] = redactText(String((err as Error)?.message ?? err), this.options.secrets);
    if (before !== this.problems[part]) this.publish('problems', { ...this.problems });
  }

  private async ensureDesign(): Promise<void> {
    const http = this.couch.http;
    try {
      const res = await http.request<{ _rev?: string; views?: Record<string, { map?: string; reduce?: string }> }>({ path: http.docPath(DASHBOARD_DESIGN._id) });
      if (res.status === 200 && sameViews(res.body, DASHBOARD_DESIGN)) return;
      if (res.status !== 200 && res.status !== 404) throw http.errorFor(res, `reading ${DASHBOARD_DESIGN._id}`);
      const body = { ...DASHBOARD_DESIGN, ...(res.status === 200 ? { _rev: res.body._rev } : {}) };
      const put = await http.request({ method: 'PUT', path: http.docPath(DASHBOARD_DESIGN._id), body });
      if (put.status >= 300 && put.status !== 409) throw http.errorFor(put, `installing ${DASHBOARD_DESIGN._id} (run picas init)`);
      this.options.log?.info(`dashboard: installed ${DASHBOARD_DESIGN._id}`);
    } catch (err) {
      // the chart and the failures say so; the counts and pilots still work
      this.problem('chart', err);
    }
  }

  private due(p: PartState, now: number): boolean {
    if (p === this.parts.pilots && now >= this.pilotsRecheckAt) {
      this.pilotsRecheckAt = Infinity;
      p.dirty = true;
    }
    if (p.everyMs !== undefined && now - p.last >= p.everyMs) p.dirty = true;
    return p.dirty && now >= p.last + p.minIntervalMs && now >= p.retryAt;
  }

  /** The next part to read: the counts every other turn, else the part waiting longest. */
  private pick(): Part | undefined {
    const now = Date.now();
    const counts = this.due(this.parts.counts, now);
    if (counts && this.lastPicked !== 'counts') return 'counts';
    let best: Part | undefined;
    for (const part of PARTS) {
      if (part === 'counts' || !this.due(this.parts[part], now)) continue;
      if (!best || this.parts[part].last < this.parts[best].last) best = part;
    }
    return best ?? (counts ? 'counts' : undefined);
  }

  private async loop(): Promise<void> {
    const signal = this.stopper.signal;
    while (!signal.aborted) {
      const part = this.pick();
      if (!part) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 1000);
          function done() {
            clearTimeout(timer);
            resolve();
          }
          this.wake = done;
        });
        this.wake = undefined;
        continue;
      }
      const p = this.parts[part];
      p.dirty = false;
      p.last = Date.now();
      this.lastPicked = part;
      try {
        await this.refresh(part, signal);
        this.reach.answered();
        p.failures = 0;
        this.problem(part, undefined);
      } catch (err) {
        if (signal.aborted) break;
        p.failures++;
        p.dirty = true;
        p.retryAt = Date.now() + backoffDelay(p.failures, 2000, 60_000);
        this.reach.failed(err);
        this.problem(part, err);
        this.options.log?.warn({ err, part }, `dashboard: reading the ${part} failed; retrying`);
      }
    }
  }

  private refresh(part: Part, signal: AbortSignal): Promise<void> {
    switch (part) {
      case 'counts':
        return this.refreshCounts(signal);
      case 'extras':
        return this.refreshExtras(signal);
      case 'pilots':
        return this.refreshPilots(signal);
      case 'failures':
        return this.refreshFailures(signal);
      case 'chart':
        return this.refreshChart(signal);
      case 'autoscaler':
        return this.refreshAutoscaler(signal);
    }
  }

  private async refreshCounts(signal: AbortSignal): Promise<void> {
    const states = (await stateCounts(this.couch, { signal })) as Record<string, number>;
    const before = this.states;
    this.states = { ...states };
    if (!before || before.done !== states.done || before.error !== states.error) this.parts.chart.dirty = true;
    if (!before || before.error !== states.error) this.parts.failures.dirty = true;
    if (!before || MONITOR_STATES.some((s) => before[s] !== states[s]) || Object.keys(before).length !== Object.keys(states).length) this.parts.extras.dirty = true;
    this.publishCounts();
  }

  /** The full `picas status` read: conflicts, and any states beyond PiCaS' four (waiting, blocked, ...). */
  private async refreshExtras(signal: AbortSignal): Promise<void> {
    const full = await tokenStatus(this.couch, { signal });
    const status = full as unknown as Record<string, number | null>;
    const extra: Record<string, number> = {};
    for (const [k, v] of Object.entries(status)) {
      if (k === 'total' || k === 'conflicts' || (MONITOR_STATES as readonly string[]).includes(k) || typeof v !== 'number') continue;
      extra[k] = v;
    }
    this.extras = { states: extra, conflicts: status.conflicts ?? null, todoByShape: full.todo_by_shape };
    this.publishCounts();
  }

  private publishCounts(): void {
    const s = this.states ?? {};
    const states: Record<string, number> = {};
    for (const k of MONITOR_STATES) states[k] = Number(s[k]) || 0;
    for (const [k, v] of Object.entries(s)) if (!(k in states)) states[k] = Number(v) || 0;
    for (const [k, v] of Object.entries(this.extras.states)) if (!(k in states)) states[k] = v;
    const total = MONITOR_STATES.reduce((sum, k) => sum + states[k]!, 0);
    const finished = states.done! + states.error!;
    const now = Date.now();
    this.samples.push({ t: now, finished });
    while (this.samples.length > 2 && now - this.samples[1]!.t >= RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const spanS = (now - first.t) / 1000;
    let perMinute: number | null = spanS >= 10 ? ((finished - first.finished) / spanS) * 60 : (this.chartRate ?? null);
    if (perMinute !== null && perMinute < 0) perMinute = 0;
    const remaining = Math.max(0, total - finished);
    const etaSeconds = remaining === 0 ? 0 : perMinute ? Math.round((remaining / perMinute) * 60) : null;
    this.publish('counts', { time: now, states, total, finished, conflicts: this.extras.conflicts, todoByShape: this.extras.todoByShape ?? null, ratePerMinute: perMinute === null ? null : Math.round(perMinute * 10) / 10, etaSeconds });
  }

  private async refreshPilots(signal: AbortSignal): Promise<void> {
    const pilots = await listPilots(this.couch, { signal });
    const lostAt = pilots.filter((p) => p.shown === 'running').map((p) => pilotLostAt(p) * 1000);
    this.pilotsRecheckAt = lostAt.length ? Math.min(...lostAt) + 500 : Infinity;
    const rows = pilots.map(pilotTableRow);
    this.publish('pilots', { now: Date.now(), rows });
  }

  private async refreshFailures(signal: AbortSignal): Promise<void> {
    this.publish('failures', { rows: await this.failures.read(this.couch.http, signal) });
  }

  private async refreshChart(signal: AbortSignal): Promise<void> {
    const { model, ratePerMinute } = await readChart(this.couch.http, signal);
    // the chart's rate: the ETA's until the counts have their own history
    this.chartRate = ratePerMinute;
    this.publish('chart', model);
  }

  private async refreshAutoscaler(signal: AbortSignal): Promise<void> {
    this.publish('autoscaler', await readAutoscalerPanel(this.couch.http, signal));
  }
}
