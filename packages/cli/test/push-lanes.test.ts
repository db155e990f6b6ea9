/**
 * `picas push` of a .txt file through its concurrent path (several `_bulk_docs` requests in flight), end to
 * end on the test server: a batch the server keeps failing is reported with its file and lines, the push
 * stops, exits non-zero, every token it reports as written is really there in full, and running the same
 * push again finishes the job without duplicates.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));

/** A proxy in front of the test server that answers 500 to every `_bulk_docs` request carrying `poison`. */
async function poisonProxy(target: string, poison: string) {
  const upstream = new URL(target);
  let refused = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.url?.endsWith('/_bulk_docs') && body.includes(poison)) {
        refused++;
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'unknown_error', reason: 'injected by the test proxy' }));
        return;
      }
      const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'bad_gateway' }));
      });
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, refused: () => refused };
}

async function tokens(): Promise<Array<Record<string, any>>> {
  const body = await db.couch.http.expectOk<{ rows: Array<{ id: string; doc: Record<string, any> }> }>({ path: db.couch.http.dbPath('/_all_docs'), query: { include_docs: true } });
  return body.rows.filter((r) => !r.id.startsWith('_design/')).map((r) => r.doc);
}

test('a batch the server keeps failing is named by file and lines; the rest is all there, and a re-run finishes without duplicates', async () => {
  const count = 5000;
  const poisonLine = 2500; // the last line of the 10th batch of 250: lines 2251-2500
  const lines = Array.from({ length: count }, (_, i) => (i + 1 === poisonLine ? 'echo poison' : `echo lane ${i + 1}`));
  const dir = tempDir({ 'lanes.txt': lines.join('\n') + '\n' });
  const proxy = await poisonProxy(db.env.PICAS_URL!, '"input":"echo poison"');

  const first = await runCli(['push', 'lanes.txt', '--batch-size', '250'], { env: { ...db.env, PICAS_URL: proxy.url }, cwd: dir });
  assert.notEqual(first.exitCode, 0, first.stderr);
  assert.ok(proxy.refused() >= 1);
  assert.match(first.stderr, /250 tokens from lanes\.txt lines 2251-2500 may not have been written/);
  assert.match(first.stderr, /run the same push again to finish/);
  const created = Number(/pushed (\d+) tokens, 0 already present/.exec(first.stdout)?.[1]);
  const notWritten = Number(/(\d+) tokens were not written/.exec(first.stderr)?.[1]);
  assert.equal(created + notWritten, count, `${first.stdout}\n${first.stderr}`);
  const notSent = /picas: the push stopped there; (\d+) tokens from lanes\.txt after line (\d+) on were not sent/.exec(first.stderr);
  if (notSent) assert.equal(Number(notSent[1]), count - Number(notSent[2]), 'every line after the last batch taken is unsent');

  // what the push reported as written is there, whole: every field of a new token, from a line of the file
  const written = await tokens();
  assert.equal(written.length, created);
  const byInput = new Set(lines);
  for (const doc of written) {
    assert.ok(byInput.has(doc.input), doc.input);
    assert.deepEqual([doc.type, doc.lock, doc.done, doc.hostname, doc.scrub_count, doc.exit_code, doc.output, doc.error, typeof doc.created], ['token', 0, 0, '', 0, '', {}, [], 'number']);
  }
  assert.ok(!written.some((d) => d.input === 'echo poison'), 'nothing of the refused batch is there');

  // the same push, straight to the server: finishes, and counts what was written as already present
  const again = await runCli(['push', 'lanes.txt', '--batch-size', '250'], { env: db.env, cwd: dir });
  assert.equal(again.exitCode, 0, again.stderr);
  assert.equal(again.stdout.trim(), `pushed ${count - created} tokens, ${created} already present`);
  const all = await tokens();
  assert.equal(all.length, count);
  assert.deepEqual(new Set(all.map((d) => d.input)), byInput);
  // and once more: nothing new
  const third = await runCli(['push', 'lanes.txt'], { env: db.env, cwd: dir });
  assert.equal(third.stdout.trim(), `pushed 0 tokens, ${count} already present`);
});
