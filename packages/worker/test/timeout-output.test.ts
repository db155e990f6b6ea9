import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileLabel } from '@picas/testkit';
import { alive, getToken, killGroup, poolDatabase, pushTokens, readPid, startProxy, summaryOf, tempDir, worker } from './helpers.js';

const db = await poolDatabase(fileLabel(import.meta.url));
const { couch } = db;

test('--token-timeout kills `sleep 1000` and its grandchildren; the token ends in error with the reason', async (t) => {
  const dir = tempDir();
  await pushTokens(couch, [['slow_1', `echo $$ > '${dir}/shell.pid'; (sleep 1000; echo never) & echo $! > '${dir}/sub.pid'; sleep 1000`]]);
  const w = worker(db, ['--token-timeout', '1s', '--kill-grace', '2s']);
  t.after(() => w.kill('SIGKILL'));
  const r = await w;
  assert.equal(r.exitCode, 0, r.stderr);
  const tok = await getToken(couch, 'slow_1');
  assert.ok(tok.done > 0);
  assert.equal(tok.exit_code, 143, 'ended by SIGTERM');
  assert.match(tok.error!.at(-1)!.message!, /timed out after 1s \(--token-timeout\)/);
  assert.ok(tok.run_seconds! >= 1 && tok.run_seconds! < 30);
  const shell = readPid(join(dir, 'shell.pid'));
  const sub = readPid(join(dir, 'sub.pid'));
  assert.ok(shell && sub);
  assert.ok(!alive(shell) && !alive(sub), 'the whole process group is gone');
  killGroup(shell);
});

test('a 50 MB output is capped to head + marker + tail, and the worker RSS stays bounded', async () => {
  await pushTokens(couch, [
    ['small_1', 'echo small'],
  ]);
  const baseline = await worker(db, []);
  assert.equal(baseline.exitCode, 0, baseline.stderr);
  const baseRss = summaryOf(baseline.stderr).peak_rss_mb as number;

  await pushTokens(couch, [['big_1', `head -c 50000000 /dev/zero | tr '\\0' 'a'; echo; echo THE-END; head -c 20000000 /dev/zero | tr '\\0' 'e' >&2`]]);
  const max = 65_536;
  const r = await worker(db, ['--max-log-bytes', String(max)]);
  assert.equal(r.exitCode, 0, r.stderr);
  const tok = await getToken(couch, 'big_1', { attachments: true });
  assert.equal(tok.exit_code, 0);
  const out = Buffer.from(tok._attachments!['logs_big_1.out']!.data!, 'base64').toString('latin1');
  const marker = /\n\[picas: (\d+) bytes omitted \(--max-log-bytes\)\]\n/.exec(out);
  assert.ok(marker, 'the cap marker is there');
  assert.equal(out.length, max + marker[0].length);
  assert.equal(Number(marker[1]), 50_000_000 + 1 + 8 - max);
  assert.ok(out.startsWith('aaaa'));
  assert.ok(out.endsWith('a\nTHE-END\n'), 'the tail is kept');
  const err = Buffer.from(tok._attachments!['logs_big_1.err']!.data!, 'base64');
  assert.ok(err.length < max + 100);
  const rss = summaryOf(r.stderr).peak_rss_mb as number;
  assert.ok(rss < baseRss + 40, `peak RSS ${rss} MB with 70 MB of output vs ${baseRss} MB with none`);
});

test('binary (non-UTF-8) output survives byte for byte', async () => {
  await pushTokens(couch, [['bin_1', `printf '\\377\\376\\000\\001abc\\200\\n'; printf '\\351t\\351' >&2`]]);
  const r = await worker(db, []);
  assert.equal(r.exitCode, 0, r.stderr);
  const tok = await getToken(couch, 'bin_1', { attachments: true });
  assert.deepEqual([...Buffer.from(tok._attachments!['logs_bin_1.out']!.data!, 'base64')], [0xff, 0xfe, 0x00, 0x01, 0x61, 0x62, 0x63, 0x80, 0x0a]);
  assert.deepEqual([...Buffer.from(tok._attachments!['logs_bin_1.err']!.data!, 'base64')], [0xe9, 0x74, 0xe9]);
  // and as a plain attachment download
  const raw = await couch.http.request({ path: couch.http.docPath('bin_1', 'logs_bin_1.out'), raw: true });
  assert.equal(raw.status, 200);
  assert.deepEqual([...(raw.body as Buffer)], [0xff, 0xfe, 0x00, 0x01, 0x61, 0x62, 0x63, 0x80, 0x0a]);
});

test('when CouchDB refuses a result as too large (413), it is stored with smaller logs rather than lost', async () => {
  await pushTokens(couch, [['huge_1', `head -c 3000000 /dev/zero | tr '\\0' 'x'`]]);
  const proxy = await startProxy(db.config.url, {
    reject: (req) => (req.method === 'PUT' && Number(req.headers['content-length'] ?? 0) > 1_000_000 ? 413 : undefined),
  });
  const r = await worker(db, ['--max-log-bytes', '2000000'], { env: { PICAS_URL: proxy.url } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /done 1, failed 0, requeued 0, lost 0/);
  assert.match(r.stderr, /refused the logs as too large \(413\)/);
  assert.ok(proxy.requests.some((q) => q.status === 413));
  const tok = await getToken(couch, 'huge_1', { attachments: true });
  assert.equal(tok.exit_code, 0);
  const out = Buffer.from(tok._attachments!['logs_huge_1.out']!.data!, 'base64').toString('latin1');
  assert.match(out, /\[picas: 2934464 bytes omitted/);
});
