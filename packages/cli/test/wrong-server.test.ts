/**
 * Messages that point the right way when the URL is wrong: Fauxton's address, a server that is not
 * CouchDB, a URL without `http://`, and a push to a database that does not exist yet.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));
const dir = tempDir({ 'tokens.txt': 'echo one\necho two\n' });

/** A web server that is not CouchDB: an HTML page for every path, 404 for GET, 501 for other methods (as python -m http.server). */
const web = createServer((req, res) => {
  res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 501, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!DOCTYPE html>\n<html><head><title>Error response</title></head><body><h1>Nothing here</h1></body></html>\n');
});
await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
after(() => new Promise<void>((resolve) => web.close(() => resolve())));
const webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env: { ...db.env, ...env }, cwd: dir });

test('a server that is not CouchDB: said so, with its status, content type and a short excerpt, for every command', async () => {
  for (const args of [['status'], ['init'], ['show', 'x'], ['list'], ['push', 'tokens.txt'], ['delete', 'x', '--yes']]) {
    const r = await cli(args, { PICAS_URL: webUrl });
    assert.equal(r.exitCode, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^picas: ${webUrl} is not a CouchDB server: it answered (404|501) text/html \\("<!DOCTYPE html> <html><head><title>Error response`, 'm'), args.join(' '));
    assert.doesNotMatch(r.stderr, /run picas init|run the same push again/, args.join(' '));
    assert.ok(!r.stderr.includes(db.env.PICAS_PASSWORD ?? '\u0000'), 'never the password');
  }
});

test("Fauxton's address (as the browser shows it): not a CouchDB server, and which URL is", async () => {
  const root = db.env.PICAS_URL!.replace(/\/$/, '');
  for (const fauxton of [`${root}/_utils/`, `${root}/_utils/#database/${db.config.db}/_all_docs`]) {
    for (const args of [['status'], ['push', 'tokens.txt'], ['init']]) {
      const r = await cli(['--url', fauxton, ...args]);
      assert.equal(r.exitCode, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), `picas: --url (from --url): ${fauxton} is not a CouchDB server but Fauxton, its web interface: the server's URL is ${root}`, args.join(' '));
    }
  }
});

test('a URL without http:// gets the URL it probably means', async () => {
  const flag = await cli(['--url', '127.0.0.1:5984', 'status']);
  assert.equal(flag.exitCode, 1);
  assert.equal(flag.stderr.trim(), 'picas: --url (from --url): not a valid URL (did you mean http://127.0.0.1:5984?)');
  const env = await cli(['status'], { PICAS_URL: 'localhost:5984' });
  assert.equal(env.exitCode, 1);
  assert.equal(env.stderr.trim(), 'picas: --url (from env PICAS_URL): must start with http:// or https:// (did you mean http://localhost:5984?)');
});

test('a push to a database that does not exist says to run picas init, not to push again', async () => {
  const r = await cli(['push', 'tokens.txt'], { PICAS_DB: 'not_made_yet' });
  assert.equal(r.exitCode, 4, r.stderr);
  assert.match(r.stderr, /^picas: database 'not_made_yet' does not exist: run picas init$/m);
  assert.doesNotMatch(r.stderr, /run the same push again|may not have been written/);
});
