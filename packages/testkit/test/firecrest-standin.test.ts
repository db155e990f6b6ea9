// The FirecREST stand-in itself, spoken to with plain fetch: does it follow the v2 API as published?
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFirecrestStandin, waitFor, type FirecrestStandin } from '../src/index.js';

let standin: FirecrestStandin;
let token: string;

before(async () => {
  standin = await startFirecrestStandin({ runner: 'bash', killWaitMs: 2_000 });
});
after(() => standin.close());

async function login(secret = standin.clientSecret, grant = 'client_credentials'): Promise<Response> {
  return fetch(standin.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: grant, client_id: standin.clientId, client_secret: secret }).toString(),
  });
}

function api(path: string, init: RequestInit & { json?: unknown; auth?: string | null } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  const auth = init.auth === undefined ? token : init.auth;
  if (auth) headers.authorization = `Bearer ${auth}`;
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['content-type'] = 'application/json';
  }
  return fetch(standin.url + path, { ...init, headers, body });
}

async function job(id: string): Promise<any> {
  const res = await api(`/compute/${standin.system}/jobs/${id}`);
  assert.equal(res.status, 200);
  return ((await res.json()) as any).jobs[0];
}

function assertErrorShape(body: any): void {
  assert.deepEqual(Object.keys(body).sort(), ['causedBy', 'data', 'errorType', 'message', 'user']);
  assert.ok(['error', 'validation'].includes(body.errorType));
  assert.equal(typeof body.message, 'string');
}

test('the token endpoint speaks OIDC client credentials and issues JWT-shaped expiring tokens', async () => {
  const bad = await login('wrong-secret');
  assert.equal(bad.status, 401);
  assert.deepEqual(await bad.json(), { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' });
  assert.equal((await login(standin.clientSecret, 'password')).status, 400);

  const basic = await fetch(standin.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${standin.clientId}:${standin.clientSecret}`).toString('base64') },
    body: 'grant_type=client_credentials',
  });
  assert.equal(basic.status, 200);

  const res = await login();
  assert.equal(res.status, 200);
  const body = (await res.json()) as { access_token: string; expires_in: number; token_type: string };
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 300);
  const parts = body.access_token.split('.');
  assert.equal(parts.length, 3);
  const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  assert.ok(claims.exp - claims.iat === 300);
  token = body.access_token;
});

test('API calls need a valid token; errors have the v2 body and F7T headers; paths are lowercased', async () => {
  const missing = await api('/status/systems', { auth: null });
  assert.equal(missing.status, 401);
  assertErrorShape(await missing.json());

  const forged = await api('/status/systems', { auth: token.slice(0, -4) + 'AAAA' });
  assert.equal(forged.status, 401);

  const res = await api('/STATUS/Systems');
  assert.equal(res.status, 200);
  assert.ok(res.headers.get('f7t-timestamp'));
  assert.ok(res.headers.get('f7t-appversion'));
  assert.ok(res.headers.get('f7t-authusername'));
  const { systems } = (await res.json()) as any;
  assert.equal(systems[0].name, standin.system);
  assert.equal(systems[0].scheduler.type, 'slurm');
  assert.deepEqual(systems[0].fileSystems, [{ path: standin.root, dataType: 'scratch', defaultWorkDir: true }]);

  const unknown = await api('/compute/nosuchsystem/jobs');
  assert.equal(unknown.status, 404);
  const body = (await unknown.json()) as any;
  assertErrorShape(body);
  assert.equal(body.message, 'System not found');
  assert.ok(body.user, 'errors of authenticated calls name the user');

  // the system name is lowercased along with the path
  assert.equal((await api(`/compute/${standin.system.toUpperCase()}/jobs`)).status, 200);
});

test('a job submission is validated: 400 with errorType "validation"', async () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ job: { script: 'echo' } }, /workingDirectory: Field required/],
    [{ job: { workingDirectory: standin.root } }, /exactly one of script or scriptPath/],
    [{ job: { workingDirectory: standin.root, script: 'echo', scriptPath: '/x.sh' } }, /exactly one of script or scriptPath/],
    [{ job: { workingDirectory: 'relative/dir', script: 'echo' } }, /must be an absolute path/],
    [{ job: { workingDirectory: standin.root, scriptPath: 'x.sh' } }, /scriptPath: 'x.sh' must be an absolute path/],
    [{ job: { workingDirectory: standin.root, script: 'echo', env: { A: 1 } } }, /env.A: must be a string/],
    [{}, /job: Field required/],
  ];
  for (const [body, message] of cases) {
    const res = await api(`/compute/${standin.system}/jobs`, { method: 'POST', json: body });
    assert.equal(res.status, 400, JSON.stringify(body));
    const err = (await res.json()) as any;
    assertErrorShape(err);
    assert.equal(err.errorType, 'validation');
    assert.match(err.message, message);
  }
  const noDir = await api(`/compute/${standin.system}/jobs`, { method: 'POST', json: { job: { workingDirectory: join(standin.root, 'missing'), script: 'echo' } } });
  assert.equal(noDir.status, 500);
  assert.match(((await noDir.json()) as any).message, /sbatch: error: .*No such file or directory/);
});

test('bash jobs run, report states and exit codes, and are cancelled with SIGTERM', async () => {
  const submit = async (script: string, extra: Record<string, unknown> = {}) => {
    const res = await api(`/compute/${standin.system}/jobs`, { method: 'POST', json: { job: { workingDirectory: standin.root, script, ...extra } } });
    assert.equal(res.status, 201);
    const { jobId } = (await res.json()) as { jobId: unknown };
    assert.equal(typeof jobId, 'string');
    return jobId as string;
  };
  const ok = await submit('#!/bin/bash\n#SBATCH --job-name=hello\n#SBATCH --output=hello-%j.out\necho "hello $GREETING"\n', { env: { GREETING: 'world' } });
  const failing = await submit('#!/bin/bash\nexit 3\n', { name: 'failing' });
  const long = await submit('#!/bin/bash\ntrap "echo got TERM; exit 143" TERM\nsleep 60 & wait\n');

  const done = await waitFor(async () => ((await job(ok)).status.state === 'COMPLETED' ? job(ok) : undefined), { what: 'job to complete' });
  assert.equal(done.name, 'hello');
  assert.equal(done.status.exitCode, 0);
  assert.equal(done.workingDirectory, standin.root);
  assert.equal(readFileSync(join(standin.root, `hello-${ok}.out`), 'utf8'), 'hello world\n');

  const failed = await waitFor(async () => ((await job(failing)).status.state === 'FAILED' ? job(failing) : undefined), { what: 'job to fail' });
  assert.equal(failed.status.exitCode, 3);
  assert.equal(failed.name, 'failing');

  assert.equal((await job(long)).status.state, 'RUNNING');
  const del = await api(`/compute/${standin.system}/jobs/${long}`, { method: 'DELETE' });
  assert.equal(del.status, 204);
  assert.equal(await del.text(), '');
  const cancelled = await waitFor(async () => ((await job(long)).status.state.startsWith('CANCELLED') ? job(long) : undefined), { what: 'job to be cancelled' });
  assert.match(cancelled.status.state, /^CANCELLED by \d+$/);
  assert.match(readFileSync(join(standin.root, `slurm-${long}.out`), 'utf8'), /got TERM/);

  const meta = await api(`/compute/${standin.system}/jobs/${ok}/metadata`);
  assert.match(((await meta.json()) as any).jobs[0].script, /echo "hello \$GREETING"/);
  const list = (await (await api(`/compute/${standin.system}/jobs`)).json()) as any;
  assert.deepEqual(list.jobs.map((j: any) => String(j.jobId)).sort(), [ok, failing, long].sort());
  assert.equal((await api(`/compute/${standin.system}/jobs/424242`)).status, 404);
});

test('file operations: mkdir, upload (multipart, 5 MiB limit), ls, download, view; paths checked', async () => {
  const dir = join(standin.root, 'data', 'nested');
  const mk = await api(`/filesystem/${standin.system}/ops/mkdir`, { method: 'POST', json: { sourcePath: dir, parent: true } });
  assert.equal(mk.status, 201);
  assert.equal(((await mk.json()) as any).output.type, 'd');
  assert.equal((await api(`/filesystem/${standin.system}/ops/mkdir`, { method: 'POST', json: { sourcePath: dir, parent: false } })).status, 400);

  const form = new FormData();
  form.append('file', new Blob(['line one\nline two\n']), 'notes.txt');
  const up = await api(`/filesystem/${standin.system}/ops/upload?path=${encodeURIComponent(dir)}`, { method: 'POST', body: form });
  assert.equal(up.status, 204);

  const ls = (await (await api(`/filesystem/${standin.system}/ops/ls?path=${encodeURIComponent(dir)}`)).json()) as any;
  assert.equal(ls.output.length, 1);
  assert.equal(ls.output[0].name, 'notes.txt');
  assert.equal(ls.output[0].type, '-');
  assert.equal(ls.output[0].size, '18');

  const down = await api(`/filesystem/${standin.system}/ops/download?path=${encodeURIComponent(join(dir, 'notes.txt'))}`);
  assert.equal(down.status, 200);
  assert.equal(await down.text(), 'line one\nline two\n');
  const view = (await (await api(`/filesystem/${standin.system}/ops/view?path=${encodeURIComponent(join(dir, 'notes.txt'))}&offset=5&size=3`)).json()) as any;
  assert.equal(view.output, 'one');

  const missing = await api(`/filesystem/${standin.system}/ops/download?path=${encodeURIComponent(join(dir, 'nope'))}`);
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as any).message, /No such file or directory/);
  const outside = await api(`/filesystem/${standin.system}/ops/ls?path=/etc`);
  assert.equal(outside.status, 400);
  assert.equal(((await outside.json()) as any).errorType, 'validation');
  assert.equal((await api(`/filesystem/${standin.system}/ops/ls?path=relative`)).status, 400);

  const big = new FormData();
  big.append('file', new Blob([Buffer.alloc(5 * 1024 * 1024 + 1)]), 'big.bin');
  const tooBig = await api(`/filesystem/${standin.system}/ops/upload?path=${encodeURIComponent(dir)}`, { method: 'POST', body: big });
  assert.equal(tooBig.status, 413);
});

test('an upload replaces a file of the same name; ls of a file lists that file alone (how a launcher checks a staged file)', async () => {
  const dir = join(standin.root, 'staging');
  assert.equal((await api(`/filesystem/${standin.system}/ops/mkdir`, { method: 'POST', json: { sourcePath: dir, parent: true } })).status, 201);
  const file = join(dir, 'picas-worker-0123abcd.mjs');
  const notThere = await api(`/filesystem/${standin.system}/ops/ls?path=${encodeURIComponent(file)}`);
  assert.equal(notThere.status, 404);
  assert.match(((await notThere.json()) as any).message, /No such file or directory/);
  for (const text of ['first version, longer', 'second']) {
    const form = new FormData();
    form.append('file', new Blob([text]), 'picas-worker-0123abcd.mjs');
    assert.equal((await api(`/filesystem/${standin.system}/ops/upload?path=${encodeURIComponent(dir)}`, { method: 'POST', body: form })).status, 204);
  }
  assert.equal(readFileSync(file, 'utf8'), 'second');
  const ls = (await (await api(`/filesystem/${standin.system}/ops/ls?path=${encodeURIComponent(file)}`)).json()) as any;
  assert.deepEqual(ls.output.map((e: any) => [e.name, e.type, e.size]), [['picas-worker-0123abcd.mjs', '-', '6']]);
  const logged = standin.requests.filter((r) => r.path.endsWith('/ops/upload') && r.status === 204);
  assert.ok(logged.length >= 2, 'uploads are in the request log');
  // the upload's directory must exist, and the name must be a file name
  const noDir = new FormData();
  noDir.append('file', new Blob(['x']), 'x.txt');
  assert.equal((await api(`/filesystem/${standin.system}/ops/upload?path=${encodeURIComponent(join(dir, 'missing'))}`, { method: 'POST', body: noDir })).status, 404);
  const noFile = new FormData();
  noFile.append('other', new Blob(['x']), 'x.txt');
  const refused = await api(`/filesystem/${standin.system}/ops/upload?path=${encodeURIComponent(dir)}`, { method: 'POST', body: noFile });
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as any).errorType, 'validation');
});

test('injected faults: 429 with Retry-After, 5xx, revoked tokens, tokens that expire too soon', async () => {
  standin.injectFault({ status: 429, retryAfter: '2', count: 2 });
  for (let i = 0; i < 2; i++) {
    const res = await api('/status/systems');
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '2');
    assertErrorShape(await res.json());
  }
  assert.equal((await api('/status/systems')).status, 200);

  standin.injectFault({ status: 503, method: 'GET', pathIncludes: '/ops/ls' });
  assert.equal((await api('/status/systems')).status, 200, 'a fault only hits matching requests');
  assert.equal((await api(`/filesystem/${standin.system}/ops/ls?path=${encodeURIComponent(standin.root)}`)).status, 503);

  standin.expireTokens();
  const expired = await api('/status/systems');
  assert.equal(expired.status, 401);
  assert.equal(((await expired.json()) as any).message, 'Access token has expired');

  const short = await startFirecrestStandin({ runner: 'bash', tokenLifetimeSeconds: 20 });
  try {
    const res = await fetch(short.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: short.clientId, client_secret: short.clientSecret }).toString() });
    const { access_token } = (await res.json()) as { access_token: string };
    const refused = await fetch(short.url + '/status/systems', { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as any).message, 'Access token expires too soon');
  } finally {
    await short.close();
  }
});
