/**
 * The dashboard keeps CouchDB's credentials on the server: no served file and no response (pages, scripts,
 * the event stream, logs, errors) holds the password, the Basic authorization or a URL with credentials.
 * Bound to loopback it answers only to a loopback Host; bound to another address it needs its access token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { newToken } from '@picas/core';
import { fileLabel, freshDatabase, runCli, runWorker, waitFor } from '@picas/testkit';
import { startDashboardProcess } from './dashboard-process.js';

const label = fileLabel(import.meta.url);

function rawGet(url: string, headers: Record<string, string> = {}, maxBytes = 1 << 22, until?: RegExp): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString('utf8');
        if (body.length >= maxBytes || (until && until.test(body))) {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

function forbiddenStrings(env: Record<string, string>): string[] {
  const out: string[] = [];
  if (env.PICAS_PASSWORD) {
    out.push(Buffer.from(`${env.PICAS_USERNAME}:${env.PICAS_PASSWORD}`).toString('base64'), `${env.PICAS_USERNAME}:${env.PICAS_PASSWORD}`);
    // a short test password (a hand-started CouchDB's 'pass') is a word that minified code may hold by chance
    if (env.PICAS_PASSWORD.length >= 8) out.push(env.PICAS_PASSWORD);
  }
  return out;
}

test('no served file or response holds the CouchDB password or credentials', async () => {
  const db = await freshDatabase(label);
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  // a failing token whose logs exist, so the log endpoint has something to serve
  await db.couch.http.expectOk({ method: 'POST', path: db.couch.http.dbPath('/_bulk_docs'), body: { docs: [newToken('sec_fail', 'echo out; echo err >&2; exit 2'), newToken('sec_ok', 'echo fine')] } });
  assert.equal((await runWorker(['--worker-id', 'sec-pilot'], { env: db.env })).exitCode, 0);
  const dashboard = await startDashboardProcess([], db.env);
  const base = dashboard.url;
  const forbidden = forbiddenStrings(db.env);
  assert.ok(forbidden.length > 0 || !db.env.PICAS_PASSWORD);

  // wait until the board has every part (the failures included)
  await waitFor(async () => {
    const board = JSON.parse((await rawGet(new URL('/api/board', base).href)).body);
    return board.failures?.rows?.length === 1 && board.pilots?.rows?.length === 1 && board.chart;
  }, { what: 'every part of the board', timeoutMs: 60_000, intervalMs: 200 });
  const paths = ['/', '/index.html', '/static/app.js', '/static/app.css', '/static/uPlot.iife.min.js', '/static/uPlot.min.css', '/api/board', '/api/stats', '/api/log?id=sec_fail&stream=err', '/api/log?id=sec_fail&stream=out', '/api/log?id=nope', '/api/log', '/missing'];
  const responses = await Promise.all(paths.map(async (p) => ({ p, ...(await rawGet(new URL(p, base).href)) })));
  responses.push({ p: '/api/events', ...(await rawGet(new URL('/api/events', base).href, {}, 1 << 20, /event: failures[\s\S]*event: chart/)) });
  for (const r of responses) {
    const text = r.body + JSON.stringify(r.headers);
    for (const secret of forbidden) assert.ok(!text.includes(secret), `${r.p} holds a credential`);
    assert.doesNotMatch(text, /https?:\/\/[^/\s"]*:[^/\s"]*@/, `${r.p} holds a URL with credentials`);
  }
  const byPath = Object.fromEntries(responses.map((r) => [r.p, r]));
  assert.equal(byPath['/']!.status, 200);
  assert.match(String(byPath['/']!.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(byPath['/static/uPlot.iife.min.js']!.status, 200, 'uPlot is served by picas itself');
  assert.match(byPath['/api/log?id=sec_fail&stream=err']!.body, /^err$/m);
  assert.match(byPath['/api/log?id=sec_fail&stream=out']!.body, /^out$/m);
  assert.equal(byPath['/api/log?id=nope']!.status, 404);
  assert.match(byPath['/api/events']!.body, /event: counts\ndata: \{.*"error":1/);
  const meta = JSON.parse(byPath['/api/board']!.body).meta as { fauxton: string };
  assert.match(meta.fauxton, /^http:\/\/[^@]+\/_utils\/#\/database\//);

  // a request naming another host (DNS rebinding) is refused
  const port = new URL(base).port;
  const rebound = await rawGet(`http://127.0.0.1:${port}/api/board`, { host: `evil.example:${port}` });
  assert.equal(rebound.status, 403);
  await dashboard.stop();

  // a wrong password: it says so at start (exit 3), without the password
  if (db.env.PICAS_PASSWORD) {
    const wrong = 'Wr0ng-Secret-Passw0rd';
    const bad = await runCli(['dashboard', '--port', '0'], { env: { ...db.env, PICAS_PASSWORD: wrong }, timeout: 60_000 });
    assert.equal(bad.exitCode, 3, String(bad.stderr));
    assert.match(String(bad.stderr), /authentication failed/);
    assert.ok(!String(bad.stderr).includes(wrong) && !String(bad.stdout).includes(wrong));
  }
});

test('bound to a non-loopback address, every request needs the access token printed at start', async () => {
  const db = await freshDatabase(`${label}_token`);
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const dashboard = await startDashboardProcess(['--host', '0.0.0.0'], db.env);
  const printed = new URL(dashboard.url);
  const token = printed.searchParams.get('token');
  assert.ok(token && token.length >= 32, 'a long random token is printed');
  const at = (path: string) => `http://127.0.0.1:${printed.port}${path}`;
  for (const p of ['/', '/api/board', '/api/events', '/static/app.js', '/api/log?id=x']) assert.equal((await rawGet(at(p))).status, 401, `${p} without the token`);
  assert.equal((await rawGet(at('/?token=wrong'))).status, 401);
  assert.equal((await rawGet(at('/'), { cookie: 'picas_dashboard_token=wrong' })).status, 401);
  const login = await rawGet(at(`/?token=${token}`));
  assert.equal(login.status, 303, 'the token moves from the address to a cookie');
  assert.equal(login.headers.location, '/');
  const cookie = String((login.headers['set-cookie'] as string[])[0]).split(';')[0]!;
  assert.match(String((login.headers['set-cookie'] as string[])[0]), /HttpOnly; SameSite=Strict/);
  const page = await rawGet(at('/'), { cookie });
  assert.equal(page.status, 200);
  assert.match(page.body, /picas dashboard/);
  assert.equal((await rawGet(at('/api/board'), { cookie })).status, 200);
  await dashboard.stop();
});
