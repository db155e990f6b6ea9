import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, CouchHttp, NotFoundError, UnreachableError } from '@picas/core';
import { freshDatabase, fileLabel, testServer } from '../src/index.js';

test('CouchHttp sends credentials, reports exact status codes, and maps errors', async () => {
  const { couch, config } = await freshDatabase(fileLabel(import.meta.url));
  const put = await couch.http.request({ method: 'PUT', path: couch.http.docPath('a'), body: { type: 'token' } });
  assert.equal(put.status, 201);
  const stale = await couch.http.request({ method: 'PUT', path: couch.http.docPath('a'), body: { type: 'token' } });
  assert.equal(stale.status, 409);
  await assert.rejects(couch.http.expectOk({ path: couch.http.docPath('missing') }, 'reading token missing'), NotFoundError);

  const server = await testServer();
  if (server.username) {
    const wrong = new CouchHttp({ ...config, password: 'wrong' });
    await assert.rejects(wrong.expectOk({ path: wrong.dbPath() }), (err: Error) => err instanceof AuthError && /authentication failed for user admin/.test(err.message) && !err.message.includes('wrong'));
    await wrong.close();
  }
  const dead = new CouchHttp({ ...config, url: 'http://127.0.0.1:9' });
  await assert.rejects(dead.expectOk({ path: dead.dbPath() }), (err: Error) => err instanceof UnreachableError && /cannot reach CouchDB at http:\/\/127.0.0.1:9 \(ECONNREFUSED\)/.test(err.message));
  await dead.close();
});
