// picas dashboard: plain JavaScript, no framework, no build step. It listens to the server's event stream
// (/api/events) and redraws the part that changed. Everything comes from the dashboard server: the page never
// talks to CouchDB itself.
(function () {
  'use strict';
  const $ = (sel) => document.querySelector(sel);
  const state = { meta: null, couch: null, counts: null, pilots: null, failures: null, autoscaler: null, clockOffsetMs: 0, connected: false, showEnded: false };
  // finished, stopped and failed pilots are listed (when shown) up to this many, the newest first
  const ENDED_ROWS = 50;
  let chart = null;
  let pendingChart = null;
  window.addEventListener('load', () => pendingChart && renderChart(pendingChart));

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c);
    return e;
  }

  const nf = new Intl.NumberFormat();
  function duration(s) {
    if (s == null || !isFinite(s)) return '?';
    s = Math.round(s);
    if (s < 90) return `${s}s`;
    if (s < 5400) return `${Math.round(s / 60)}m`;
    if (s < 172800) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
    return `${Math.round(s / 86400)}d`;
  }
  function when(epochSeconds) {
    if (!epochSeconds) return '';
    const d = new Date(epochSeconds * 1000);
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString() : d.toLocaleString();
  }
  const serverNow = () => Date.now() + state.clockOffsetMs;
  const ago = (epochSeconds) => `${duration(Math.max(0, serverNow() / 1000 - epochSeconds))} ago`;
  function fauxtonLink(id) {
    const base = state.meta ? state.meta.fauxton : '#';
    return el('a', { href: base + encodeURIComponent(id), target: '_blank', rel: 'noopener noreferrer', text: id, title: 'open in Fauxton' });
  }

  function renderMeta() {
    $('#db').textContent = state.meta.db;
    // the default database is called picas too: "picas dashboard", not "picas · picas dashboard"
    document.title = state.meta.db === 'picas' ? 'picas dashboard' : `${state.meta.db} · picas dashboard`;
    $('#fauxton-db').href = state.meta.fauxton.replace(/\/$/, '') + '/_all_docs';
  }

  function renderCounts() {
    const c = state.counts;
    const box = $('#counts');
    box.replaceChildren();
    const add = (name, value) => box.append(el('div', { class: `count ${name}`, 'data-state': name }, el('b', { text: nf.format(value) }), el('span', { text: name })));
    for (const [name, value] of Object.entries(c.states)) add(name, value);
    add('total', c.total);
    if (c.conflicts) add('conflicts', c.conflicts);
    const pct = (n) => (c.total ? (100 * n) / c.total : 0);
    $('#progress .done').style.width = `${pct(c.states.done)}%`;
    $('#progress .error').style.width = `${pct(c.states.error)}%`;
    $('#progress').setAttribute('aria-valuenow', String(Math.round(pct(c.finished))));
    const rate = c.ratePerMinute == null ? 'rate: not known yet' : `${nf.format(c.ratePerMinute)} tokens/min (last 5 min)`;
    let eta = '';
    if (c.total > 0 && c.finished >= c.total) eta = 'all finished';
    else if (c.etaSeconds != null) eta = `ETA ${duration(c.etaSeconds)} (about ${new Date(serverNow() + c.etaSeconds * 1000).toLocaleTimeString()})`;
    else if (c.total > 0) eta = 'ETA: when tokens finish';
    $('#progress-text').textContent = `${nf.format(c.finished)} of ${nf.format(c.total)} finished (${pct(c.finished).toFixed(1)}%) · ${rate}${eta ? ' · ' + eta : ''}`;
    // todo tokens per shape, when some need more than one core (docs/resources.md)
    const shapes = c.todoByShape ? c.todoByShape.map((s) => `${s.shape}: ${nf.format(s.todo)}`).join(' · ') : '';
    $('#todo-shapes').hidden = !shapes;
    $('#todo-shapes').textContent = shapes ? `todo by shape: ${shapes}` : '';
  }

  function sizeText(bytes) {
    if (!bytes) return '';
    const units = ['B', 'K', 'M', 'G', 'T'];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) {
      bytes /= 1024;
      i++;
    }
    return `${bytes >= 10 || Number.isInteger(bytes) ? Math.round(bytes) : bytes.toFixed(1)}${units[i]}`;
  }
  // what a pilot has, e.g. `4 cpu + 2 gpu + 16G mem`
  function resourcesText(r) {
    if (!r) return '';
    return [`${r.cpus} cpu`, r.gpus ? `${r.gpus} gpu` : '', r.mem ? `${sizeText(r.mem)} mem` : ''].filter(Boolean).join(' + ');
  }
  // its running tokens per shape, e.g. `1× 4 cpu · 2× 1 cpu`
  const shapesText = (shapes) =>
    Object.entries(shapes || {})
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([shape, n]) => `${n}× ${shape}`)
      .join(' · ');

  function renderAutoscaler() {
    const a = state.autoscaler;
    const box = $('#autoscaler');
    box.hidden = !a;
    if (!a) return;
    box.dataset.paused = String(!!a.paused);
    const paused = $('#autoscaler-paused');
    paused.hidden = !a.paused;
    paused.textContent = a.paused ? `paused since ${when(a.paused.at)}: ${a.paused.reason}${a.paused.resume ? ` · to resume: ${a.paused.resume}` : ''}` : '';
    const pilots = $('#autoscaler-pilots');
    pilots.dataset.running = String(a.running);
    pilots.dataset.pending = String(a.pending);
    pilots.textContent = `pilots: ${a.running} running, ${a.pending} pending${a.maxPilots != null ? ` of ${a.maxPilots}` : ''}${a.ended ? ` · ${a.ended} ended` : ''}`;
    const decision = $('#autoscaler-decision');
    decision.replaceChildren();
    if (a.decision) decision.append(el('span', { text: `last decision (${when(a.decision.at)}, ${ago(a.decision.at)}): ` }), el('code', { class: 'line', text: a.decision.line }));
    else decision.textContent = 'no decision yet';
    const stale = a.leaseUntil && serverNow() / 1000 > a.leaseUntil;
    $('#autoscaler-note').textContent = `${a.backend}${stale ? ' · controller not running (its lease ran out)' : ''}${a.lastError ? ` · last error: ${a.lastError}` : ''}`;
  }

  const TIME_TICKS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  function binText(seconds) {
    return seconds < 60 ? `${seconds} s` : seconds < 3600 ? `${seconds / 60} min` : seconds < 86400 ? `${seconds / 3600} h` : `${seconds / 86400} d`;
  }
  // the bins follow the run's span (finer for a short run); bars are tokens per minute, the line the running total
  function renderChart(data) {
    const box = $('#chart');
    const width = Math.max(300, box.clientWidth || 800);
    const series = [data.times, data.done, data.error, data.cumulative];
    // bins in which tokens finished, the bin width and the span covered (the tests read them off the element)
    box.dataset.points = String(data.finished.filter((n) => n > 0).length);
    box.dataset.bins = String(data.times.length);
    box.dataset.binSeconds = String(data.binSeconds);
    box.dataset.from = data.times.length ? String(data.times[0]) : '';
    box.dataset.to = data.times.length ? String(data.times[data.times.length - 1] + data.binSeconds) : '';
    box.dataset.total = data.cumulative.length ? String(data.cumulative[data.cumulative.length - 1]) : '0';
    $('#chart-note').textContent = data.times.length ? `per ${binText(data.binSeconds)} bin (as tokens / min) and in total` : '';
    if (!chart) {
      if (typeof uPlot !== 'function') {
        pendingChart = data; // drawn when uPlot has loaded
        return;
      }
      const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40], align: 1 }) : undefined;
      chart = new uPlot(
        {
          width,
          height: 220,
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] }, total: { range: (u, min, max) => [0, Math.max(1, max)] } },
          series: [
            {},
            { label: 'done / min', stroke: '#2e7d32', fill: 'rgba(46,125,50,.35)', paths: bars, points: { show: !bars } },
            { label: 'error / min', stroke: '#c62828', fill: 'rgba(198,40,40,.45)', paths: bars, points: { show: !bars } },
            { label: 'finished in total', scale: 'total', stroke: '#1565c0', width: 2, points: { show: false } },
          ],
          // time ticks of whole seconds at least (a run of seconds would get millisecond ticks)
          axes: [{ incrs: TIME_TICKS }, { label: 'tokens / min' }, { scale: 'total', side: 1, label: 'finished', grid: { show: false } }],
        },
        series,
        box,
      );
    } else {
      chart.setData(series);
    }
  }

  function renderFailures() {
    const body = $('#failures tbody');
    const rows = state.failures.rows;
    body.replaceChildren();
    if (rows.length === 0) body.append(el('tr', {}, el('td', { class: 'empty', colSpan: 5, text: 'no failed tokens' })));
    for (const f of rows) {
      const tr = el(
        'tr',
        { 'data-id': f.id, title: 'click for the whole log' },
        el('td', {}, fauxtonLink(f.id)),
        el('td', { class: 'num exit-code', text: String(f.exitCode) }),
        el('td', { text: f.host }),
        el('td', { text: when(f.when) }),
        el('td', {}, el('pre', { class: 'tail', text: f.stderr || f.message || '' })),
      );
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a')) return;
        openLog(f.id, 'err');
      });
      body.append(tr);
    }
    const errors = state.counts ? state.counts.states.error : rows.length;
    $('#failures-note').textContent = errors > rows.length ? `(newest ${rows.length} of ${nf.format(errors)}; picas list --state error for all)` : '';
  }

  function pilotRow(p) {
    const c = p.counts || {};
    return el(
      'tr',
      { 'data-pilot': p.pilot, 'data-state': p.shown, 'data-done': String(c.done || 0), 'data-failed': String(c.failed || 0) },
      el('td', { text: p.pilot }),
      el('td', {}, el('span', { class: `state ${p.shown}`, text: p.shown })),
      el('td', { text: p.host }),
      el('td', { text: p.jobs || '-' }),
      el('td', { class: 'num', text: String(p.slots) }),
      el('td', { class: 'resources', text: resourcesText(p.resources) }),
      el('td', { class: 'shapes', text: shapesText(p.runningShapes) }),
      el('td', { class: 'num', text: nf.format(c.done || 0) }),
      el('td', { class: 'num', text: nf.format(c.failed || 0) }),
      el('td', { class: 'num', text: nf.format(c.requeued || 0) }),
      el('td', { text: when(p.started) }),
      el('td', { text: p.ended ? `ended ${ago(p.ended)}` : ago(p.heartbeat) }),
      el('td', { text: p.stopReason || '' }),
    );
  }

  // running and lost pilots (as of the dashboard's last read of the records: it reads them again when a pilot
  // writes, and when one would turn lost) are listed first; the ended ones are counted per state, and listed
  // only on request, the newest first
  function renderPilots() {
    const active = state.pilots.rows.filter((p) => p.shown === 'running' || p.shown === 'lost');
    const ended = state.pilots.rows.filter((p) => p.shown !== 'running' && p.shown !== 'lost').sort((a, b) => (b.ended || b.heartbeat) - (a.ended || a.heartbeat));
    const tally = (rows) => {
      const counts = {};
      for (const p of rows) counts[p.shown] = (counts[p.shown] || 0) + 1;
      return Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ');
    };
    const body = $('#pilots-active');
    body.replaceChildren(...active.map(pilotRow));
    if (active.length === 0) body.append(el('tr', {}, el('td', { class: 'empty', colSpan: 13, text: state.pilots.rows.length ? 'no pilot running' : 'no pilot records yet' })));
    $('#pilots-ended-summary').hidden = ended.length === 0;
    const toggle = $('#pilots-toggle');
    toggle.textContent = state.showEnded ? 'hide' : 'show';
    toggle.setAttribute('aria-expanded', String(state.showEnded));
    const more = ended.length - ENDED_ROWS;
    $('#pilots-ended-note').textContent = `ended: ${tally(ended)}${state.showEnded && more > 0 ? ` (newest ${ENDED_ROWS} shown; picas pilots for all)` : ''}`;
    const endedBody = $('#pilots-ended');
    endedBody.hidden = !state.showEnded;
    // the rows are there (for tests and find-in-page) but hidden while collapsed: at most ENDED_ROWS of them
    endedBody.replaceChildren(...ended.slice(0, ENDED_ROWS).map(pilotRow));
    $('#pilots-note').textContent = [tally(active), ended.length ? `${ended.length} ended` : ''].filter(Boolean).join(' · ');
  }
  $('#pilots-toggle').addEventListener('click', () => {
    state.showEnded = !state.showEnded;
    if (state.pilots) renderPilots();
  });

  // the badge: live, reconnecting (to this dashboard), or CouchDB unreachable; numbers read before an outage
  // (or before this page lost its dashboard) are marked stale until fresh ones arrive
  function renderLink() {
    const live = $('#live');
    const couch = state.couch;
    let mode = 'live';
    let text = 'live';
    if (!state.connected) {
      mode = state.counts ? 'reconnecting' : 'connecting';
      text = state.counts ? 'reconnecting…' : 'connecting…';
    } else if (couch && !couch.reachable) {
      mode = 'unreachable';
      text = `CouchDB unreachable since ${hhmm(couch.since)}`;
      live.title = couch.reason || '';
    }
    if (mode !== 'unreachable') live.title = '';
    live.textContent = text;
    live.dataset.state = mode;
    live.classList.toggle('off', mode === 'connecting' || mode === 'reconnecting');
    live.classList.toggle('down', mode === 'unreachable');
    const readAt = state.counts ? state.counts.time : null;
    // stale: not live now, or read before CouchDB came back
    const stale = readAt !== null && (mode !== 'live' || (couch && readAt < couch.since));
    document.querySelector('main').classList.toggle('stale', !!stale);
    document.querySelector('main').dataset.stale = String(!!stale);
    const note = $('#stale-note');
    note.hidden = !stale;
    note.textContent = stale ? `stale: these numbers were read at ${new Date(readAt - state.clockOffsetMs).toLocaleTimeString()}, ${mode === 'unreachable' ? 'CouchDB cannot be reached' : mode === 'live' ? 'reading again' : 'the dashboard cannot be reached'}` : '';
  }
  function hhmm(epochMs) {
    return new Date(epochMs - state.clockOffsetMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  let logId = null;
  async function openLog(id, stream) {
    logId = id;
    const dialog = $('#log-dialog');
    $('#log-title').textContent = `${id}: ${stream === 'err' ? 'stderr' : 'stdout'}`;
    $('#log-fauxton').href = state.meta ? state.meta.fauxton + encodeURIComponent(id) : '#';
    $('#log-text').textContent = 'loading…';
    if (!dialog.open) dialog.showModal();
    const res = await fetch(`/api/log?id=${encodeURIComponent(id)}&stream=${stream}`);
    const text = await res.text();
    if (logId === id) $('#log-text').textContent = text || '(empty)';
  }
  for (const b of document.querySelectorAll('#log-dialog [data-stream]')) b.addEventListener('click', () => logId && openLog(logId, b.dataset.stream));
  $('#log-close').addEventListener('click', () => $('#log-dialog').close());
  $('#open-token').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('#token-id').value.trim();
    if (id && state.meta) window.open(state.meta.fauxton + encodeURIComponent(id), '_blank', 'noopener');
  });

  function renderProblems(problems) {
    const lines = Object.entries(problems).map(([part, text]) => `${part}: ${text}`);
    $('#problems').hidden = lines.length === 0;
    $('#problems').textContent = lines.join('\n');
  }

  // relative times and lost pilots move on without news from the server
  setInterval(() => {
    if (state.pilots) renderPilots();
    if (state.autoscaler) renderAutoscaler();
  }, 1000);

  const source = new EventSource('/api/events');
  source.addEventListener('open', () => {
    if (!state.counts) performance.mark('picas:events-open');
    state.connected = true;
    renderLink();
  });
  source.addEventListener('error', () => {
    state.connected = false;
    renderLink();
  });
  const on = (name, fn) => source.addEventListener(name, (ev) => fn(JSON.parse(ev.data)));
  on('couch', (c) => {
    state.couch = c;
    renderLink();
  });
  on('meta', (m) => {
    state.meta = m;
    renderMeta();
  });
  on('counts', (c) => {
    const first = !state.counts;
    if (first) performance.mark('picas:counts-received');
    state.counts = c;
    state.clockOffsetMs = c.time - Date.now();
    renderCounts();
    renderLink();
    // for the benchmark: when the counts were first painted, from the start of the navigation
    if (first) requestAnimationFrame(() => performance.mark('picas:first-counts'));
  });
  // the counts paint first; the heavier parts are drawn in tasks of their own after them
  const later = (fn) => setTimeout(fn, 0);
  on('chart', (d) => later(() => renderChart(d)));
  on('failures', (f) => {
    state.failures = f;
    later(renderFailures);
  });
  on('pilots', (p) => {
    state.pilots = p;
    later(renderPilots);
  });
  on('autoscaler', (a) => {
    state.autoscaler = a;
    later(renderAutoscaler);
  });
  on('problems', renderProblems);
  window.addEventListener('resize', () => chart && chart.setSize({ width: Math.max(300, $('#chart').clientWidth), height: 220 }));
})();
