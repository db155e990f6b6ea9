// Client credentials against the stand-in's token endpoint: caching, renewal before expiry, renewal on 401.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { startFirecrestStandin, STANDIN_TOKEN_PATH, type FirecrestStandin } from '@picas/testkit';
import { ClientCredentialsAuth, FirecrestAuthError, FirecrestClient, FirecrestUnreachableError } from '../src/index.js';

let standin: FirecrestStandin;
before(async () => {
  standin = await startFirecrestStandin({ runner: 'bash' });
});
after(() => standin.close());

function clientFor(s: FirecrestStandin, extra: Partial<ConstructorParameters<typeof FirecrestClient>[0]> = {}): FirecrestClient {
  return new FirecrestClient({ url: s.url, auth: { tokenUrl: s.tokenUrl, clientId: s.clientId, clientSecret: s.clientSecret }, retryBaseMs: 20, ...extra });
}

/** API requests the stand-in answered since `since` (without the token endpoint's). */
function apiRequests(s: FirecrestStandin, since: number) {
  return s.requests.slice(since).filter((r) => r.path !== STANDIN_TOKEN_PATH);
}

function unauthorized(s: FirecrestStandin, since: number) {
  return apiRequests(s, since).filter((r) => r.status === 401);
}

test('the token is fetched once and reused', async () => {
  const before = standin.tokensIssued;
  const client = clientFor(standin);
  try {
    await Promise.all([client.systems(), client.systems(), client.systems()]);
    await client.systems();
    assert.equal(standin.tokensIssued - before, 1, 'one token for four calls, three of them concurrent');
    assert.equal(client.auth.tokensFetched, 1);
  } finally {
    await client.close();
  }
});

test('the token is renewed 60 s before it expires, before the server refuses it', async () => {
  let now = Date.now();
  const client = clientFor(standin, { clock: () => now });
  const since = standin.requests.length;
  try {
    await client.systems();
    now += 239_000; // 61 s left of 300: still good
    await client.systems();
    assert.equal(client.auth.tokensFetched, 1);
    now += 2_000; // 59 s left: renew first
    await client.systems();
    assert.equal(client.auth.tokensFetched, 2);
    assert.deepEqual(unauthorized(standin, since), [], 'the server never saw a stale token');
  } finally {
    await client.close();
  }
});

test('a token the server refuses (expired mid-run) is renewed once and the call retried', async () => {
  const client = clientFor(standin);
  try {
    await client.systems();
    const since = standin.requests.length;
    standin.expireTokens();
    const systems = await client.systems();
    assert.equal(systems[0]!.name, standin.system);
    assert.equal(client.auth.tokensFetched, 2);
    assert.deepEqual(apiRequests(standin, since).map((r) => [r.status, r.message]), [[401, 'Access token has expired'], [200, undefined]]);
  } finally {
    await client.close();
  }
});

test('a token that "expires too soon" is renewed and the call goes through', async () => {
  // 31 s tokens: the server refuses them once fewer than 30 s are left, i.e. after a second
  const short = await startFirecrestStandin({ runner: 'bash', tokenLifetimeSeconds: 31 });
  const client = clientFor(short);
  try {
    await client.systems();
    await delay(1_300);
    // counted from here: on a loaded machine the first call may itself come more than a second after its
    // token was fetched, and be refused and renewed the same way
    const since = short.requests.length;
    const fetched = client.auth.tokensFetched;
    await client.systems();
    assert.deepEqual(apiRequests(short, since).map((r) => [r.status, r.message]), [[401, 'Access token expires too soon'], [200, undefined]]);
    assert.equal(client.auth.tokensFetched, fetched + 1);
  } finally {
    await client.close();
    await short.close();
  }
});

test('a server that keeps refusing fresh tokens gets one renewal, then a FirecrestAuthError (exit 3)', async () => {
  const hopeless = await startFirecrestStandin({ runner: 'bash', tokenLifetimeSeconds: 20 });
  const client = clientFor(hopeless);
  try {
    await assert.rejects(client.systems(), (err: unknown) => {
      assert.ok(err instanceof FirecrestAuthError);
      assert.equal(err.exitCode, 3);
      assert.equal(err.status, 401);
      assert.equal(err.serverMessage, 'Access token expires too soon');
      assert.match(err.message, /Access token expires too soon/);
      return true;
    });
    assert.equal(hopeless.tokensIssued, 2);
  } finally {
    await client.close();
    await hopeless.close();
  }
});

test('wrong credentials: a FirecrestAuthError naming AUTH_TOKEN_URL and the server\'s reason, never the secret', async () => {
  const secret = 'not-the-right-secret-123';
  const client = new FirecrestClient({ url: standin.url, auth: { tokenUrl: standin.tokenUrl, clientId: standin.clientId, clientSecret: secret } });
  try {
    await assert.rejects(client.systems(), (err: unknown) => {
      assert.ok(err instanceof FirecrestAuthError);
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /AUTH_TOKEN_URL http:\/\/127\.0\.0\.1:\d+\/auth\//);
      assert.match(err.message, /invalid_client \(Invalid client or Invalid client credentials\)/);
      assert.ok(!err.message.includes(secret));
      assert.ok(!JSON.stringify(err).includes(secret));
      return true;
    });
  } finally {
    await client.close();
  }
});

test('an unreachable token endpoint is a FirecrestUnreachableError naming AUTH_TOKEN_URL (exit 2)', async () => {
  const auth = new ClientCredentialsAuth({ tokenUrl: 'http://127.0.0.1:9/token', clientId: 'x', clientSecret: 'y' });
  try {
    await assert.rejects(auth.accessToken(), (err: unknown) => {
      assert.ok(err instanceof FirecrestUnreachableError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /cannot reach AUTH_TOKEN_URL http:\/\/127\.0\.0\.1:9\/token .*\(ECONNREFUSED\)/);
      return true;
    });
  } finally {
    await auth.close();
  }
});

test('HTTP Basic client authentication works too', async () => {
  const client = new FirecrestClient({ url: standin.url, auth: { tokenUrl: standin.tokenUrl, clientId: standin.clientId, clientSecret: standin.clientSecret, basicAuth: true } });
  try {
    assert.equal((await client.systems()).length, 1);
  } finally {
    await client.close();
  }
});
