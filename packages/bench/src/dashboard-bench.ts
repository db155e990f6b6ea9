/**
 * `picas dashboard` on a large pool (100,000 tokens in the full run):
 *  - the first paint: in headless Chromium (when /usr/bin/chromium is there), from the start of the
 *    navigation until the frame that shows the state counts, by the page's own clock (a performance mark),
 *    with the dashboard just started; without Chromium, until the event stream's first `counts` event;
 *  - the view reads it adds to CouchDB during a storm of changes (a writer finishing tokens in batches of
 *    200 with `_bulk_docs`, some in error, beside 2 real pilots), counted by a proxy between the dashboard
 *    and the server (every `_view/` and `_all_docs` request), per second;
 *  - how long a change in CouchDB takes to show on the page (a token pushed, until the total changes).
 * Also the first build of `_design/picas_dashboard` on that many tokens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { DESIGN_DOCS, newToken } from '@picas/core';
import { stopChild } from './child-stop.js';

export interface DashboardBenchHttp {
  call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export interface DashboardBenchOptions {
  http: DashboardBenchHttp;
  /** env for `picas` and the pilots: PICAS_URL, credentials (PICAS_DB is set here) */
  env: Record<string, string>;
  cliBin: string;
  /** how to start a pilot: file and leading args */
  worker: { file: string; args: string[] };
  tokens: number;
  /** seconds of the change storm while view reads are counted */
  loadSeconds: number;
  progress?: (line: string) => void;
}

export interface DashboardBenchResult {
  tokens: number;
  viewBuildSeconds: number;
  firstPaintMs: number;
  firstPaintHow: 'chromium' | 'event stream';
  /** as seen from the test driver: from page.goto() until the counts are on the page (Chromium only) */
  openToCountsMs: number;
  /** from asking for the event stream until its first `counts` event (the server's part of the first paint) */
  firstCountsEventMs: number;
  load: { seconds: number; tokensChanged: number; viewReads: number; viewReadsPerSec: number; changesRequestsPerSec: number };
  changeToPageMs: { median: number; max: number; samples: number };
}

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A pass-through proxy that counts the index reads going through it. */
async function countingProxy(target: string): Promise<{ url: string; viewReads: () => number; changes: () => number; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let views = 0;
  let changes = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (/\/_view\/|\/_all_docs(\?|$)/.test(path)) views++;
    if (/\/_changes(\?|$)/.test(path)) changes++;
    const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    viewReads: () => views,
    changes: () => changes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

async function startDashboard(cliBin: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cliBin, 'dashboard', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^picas dashboard: (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`picas dashboard exited (${code})`)));
  });
  return { child, url };
}

/** Milliseconds until the event stream sends its first `counts` event. */
function firstCountsEvent(url: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL('/api/events', url), (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('event: counts')) {
          resolve(performance.now() - started);
          req.destroy();
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export async function dashboardBench(o: DashboardBenchOptions): Promise<DashboardBenchResult> {
  const say = o.progress ?? (() => {});
  const db = 'bench_dashboard';
  const { http } = o;
  await http.call('DELETE', `/${db}`);
  const created = await http.call('PUT', `/${db}`);
  if (created.status >= 300) throw new Error(`cannot create ${db}: ${created.status}`);
  for (const d of DESIGN_DOCS) await http.call('PUT', `/${db}/${d._id}`, d);
  for (let i = 0; i < o.tokens; i += 5000) {
    const docs = Array.from({ length: Math.min(5000, o.tokens - i) }, (_, j) => newToken(`token_${String(i + j).padStart(7, '0')}`, 'true'));
    await http.call('POST', `/${db}/_bulk_docs`, { docs });
  }
  // the views `picas init` builds once: PiCaS' and ours (the dashboard's timed on its own)
  // (CouchDB answers a read that waits more than 60 s for its view with a 500 timeout while the build goes on)
  const built = async (path: string) => {
    for (let i = 0; i < 20; i++) {
      const r = await http.call('GET', `/${db}/${path}`);
      if (r.status < 300) return r;
      if (r.status !== 500) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    throw new Error(`${path}: still not built`);
  };
  await built('_design/Monitor/_view/overview_total?group=true');
  await built('_design/picas_claim/_view/todo_by_priority?limit=1');
  const buildStarted = performance.now();
  await built('_design/picas_dashboard/_view/finished_by_minute?group_level=2');
  const viewBuildSeconds = (performance.now() - buildStarted) / 1000;
  say(`   ${o.tokens} tokens; picas_dashboard views built in ${viewBuildSeconds.toFixed(1)} s`);

  const env: Record<string, string> = { ...o.env, PICAS_DB: db, PICAS_LOG_LEVEL: 'warn' };
  const proxy = await countingProxy(env.PICAS_URL!);
  const dashboard = await startDashboard(o.cliBin, { ...env, PICAS_URL: proxy.url });
  const pilots: ChildProcess[] = [];
  let browser: { close(): Promise<void> } | undefined;
  try {
    const firstCountsEventMs = await firstCountsEvent(dashboard.url);
    let firstPaintMs: number;
    let openToCountsMs: number | undefined;
    let firstPaintHow: DashboardBenchResult['firstPaintHow'];
    let pageTotal: (() => Promise<number>) | undefined;
    if (existsSync(CHROMIUM)) {
      const { chromium } = await import('playwright-core');
      const b = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 60_000 });
      browser = b;
      const page = await b.newPage();
      const started = performance.now();
      await page.goto(dashboard.url);
      await page.locator('#counts [data-state="todo"] b').waitFor({ timeout: 60_000 });
      openToCountsMs = performance.now() - started;
      // the page's own clock: from the start of the navigation until the frame with the counts
      const mark = await page.waitForFunction(() => (globalThis as any).performance.getEntriesByName('picas:first-counts')[0]?.startTime as number | undefined);
      firstPaintMs = Number(await mark.jsonValue());
      firstPaintHow = 'chromium';
      pageTotal = async () => Number(((await page.locator('#counts [data-state="total"] b').textContent()) ?? '').replace(/\D/g, ''));
    } else {
      firstPaintMs = await firstCountsEvent(dashboard.url);
      firstPaintHow = 'event stream';
    }
    say(`   first paint ${firstPaintMs.toFixed(0)} ms (${firstPaintHow}; ${openToCountsMs?.toFixed(0) ?? 'n/a'} ms from page.goto); first counts event ${firstCountsEventMs.toFixed(0)} ms`);

    // a storm of changes: 2 pilots, and a writer finishing tokens from the end of the pool in batches;
    // count the dashboard's index reads meanwhile
    const seqBefore = (await http.call('GET', `/${db}`)).body.update_seq;
    for (let i = 0; i < 2; i++) {
      pilots.push(spawn(o.worker.file, [...o.worker.args, '--max-time', `${o.loadSeconds + 5}s`, '--no-pilot-record'], { env, stdio: 'ignore' }));
    }
    const v0 = proxy.viewReads();
    const c0 = proxy.changes();
    const t0 = performance.now();
    let next = o.tokens - 1;
    while (performance.now() - t0 < o.loadSeconds * 1000 && next >= 200) {
      const keys = Array.from({ length: 200 }, (_, j) => `token_${String(next - j).padStart(7, '0')}`);
      next -= 200;
      const read = await http.call('POST', `/${db}/_all_docs?include_docs=true`, { keys });
      const now = Math.floor(Date.now() / 1000);
      const docs = (read.body.rows as Array<{ doc?: Record<string, unknown> }>)
        .filter((r) => r.doc && r.doc.lock === 0)
        .map((r, j) => ({ ...r.doc, lock: now, done: now, exit_code: j % 20 === 0 ? 1 : 0, hostname: 'storm' }));
      await http.call('POST', `/${db}/_bulk_docs`, { docs });
    }
    const seconds = (performance.now() - t0) / 1000;
    const viewReads = proxy.viewReads() - v0;
    const changesRequests = proxy.changes() - c0;
    await Promise.all(pilots.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
    const seqAfter = (await http.call('GET', `/${db}`)).body.update_seq;
    const tokensChanged = Number(String(seqAfter).split('-')[0]) - Number(String(seqBefore).split('-')[0]);
    say(`   under load (${seconds.toFixed(1)} s, ${tokensChanged} changes): ${viewReads} view reads (${(viewReads / seconds).toFixed(2)}/s), ${(changesRequests / seconds).toFixed(2)} _changes requests/s`);

    // a change in CouchDB until the page shows it
    const latencies: number[] = [];
    if (pageTotal) {
      await new Promise((r) => setTimeout(r, 3000)); // the board settles after the load
      for (let i = 0; i < 5; i++) {
        const before = await pageTotal();
        const started = performance.now();
        await http.call('PUT', `/${db}/late_${i}`, newToken(`late_${i}`, 'true'));
        while ((await pageTotal()) === before && performance.now() - started < 30_000) await new Promise((r) => setTimeout(r, 20));
        latencies.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1000));
      }
      say(`   change to page: ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      tokens: o.tokens,
      viewBuildSeconds,
      firstPaintMs,
      firstPaintHow,
      firstCountsEventMs,
      openToCountsMs: openToCountsMs ?? NaN,
      load: { seconds, tokensChanged, viewReads, viewReadsPerSec: viewReads / seconds, changesRequestsPerSec: changesRequests / seconds },
      changeToPageMs: { median: sorted[Math.floor(sorted.length / 2)] ?? NaN, max: sorted.at(-1) ?? NaN, samples: sorted.length },
    };
  } finally {
    for (const p of pilots) await stopChild(p);
    await browser?.close();
    await stopChild(dashboard.child);
    await proxy.close();
    await http.call('DELETE', `/${db}`);
  }
}
