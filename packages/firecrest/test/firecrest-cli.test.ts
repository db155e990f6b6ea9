// End to end: `picas firecrest submit|status|cancel` (the real CLI) → the FirecREST stand-in → real Slurm
// (when it is up) or bash → real picas-worker pilots → tokens done in the test CouchDB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { CLAIM_DESIGN, MONITOR_DESIGN, PICAS_DESIGN, newToken, type Couch } from '@picas/core';
import { listPilots } from '@picas/core/ops/list-pilots';
import {
  fileLabel,
  cleanEnv,
  freshDatabase,
  repoRoot,
  runCli,
  standinCanUseSlurm,
  startFirecrestStandin,
  STANDIN_TOKEN_PATH,
  waitFor,
  workerBin,
  type FirecrestStandin,
  type TestDatabase,
  scratchDir,
} from '@picas/testkit';
import { FirecrestClient } from '../src/index.js';

const workerCommand = `${process.execPath} ${workerBin}`;
const slurmUp = await standinCanUseSlurm();
const requireSlurm = process.env.PICAS_REQUIRE_SLURM === '1';
const SLURM_SKIP = 'no local Slurm (sinfo does not answer): run `sudo bash scripts/setup-slurm.sh` to enable these tests (PICAS_REQUIRE_SLURM=1 turns this skip into a failure)';

function slurmOptions(): { skip?: string } {
  if (slurmUp || requireSlurm) return {};
  return { skip: SLURM_SKIP };
}

async function poolWithTokens(inputs: string[]): Promise<TestDatabase> {
  const db = await freshDatabase(fileLabel(import.meta.url));
  for (const design of [MONITOR_DESIGN, CLAIM_DESIGN, PICAS_DESIGN]) {
    await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath(design._id), body: design }, 'installing design docs');
  }
  const docs = inputs.map((input, i) => newToken(`token_${i}`, input));
  await db.couch.http.expectOk({ method: 'POST', path: db.couch.http.dbPath('/_bulk_docs'), body: { docs } }, 'inserting tokens');
  return db;
}

async function counts(couch: Couch): Promise<Record<string, number>> {
  const res = await couch.http.expectOk<{ rows: Array<{ key: string; value: number }> }>({ path: couch.http.dbPath('/_design/Monitor/_view/overview_total'), query: { group: true } });
  return Object.fromEntries(res.rows.map((r) => [r.key, r.value]));
}

function clientFor(s: FirecrestStandin): FirecrestClient {
  return new FirecrestClient({ url: s.url, auth: { tokenUrl: s.tokenUrl, clientId: s.clientId, clientSecret: s.clientSecret } });
}

/** A place for the CLI's `.picas/firecrest-pilots.json`, and the jobs' working directory inside the stand-in's file system. */
function places(standin: FirecrestStandin): { cwd: string; workdir: string } {
  return { cwd: scratchDir('picas-firecrest-cli-'), workdir: join(standin.root, 'pilots') };
}

async function drainThroughFirecrest(runner: 'bash' | 'slurm'): Promise<void> {
  if (runner === 'slurm' && !slurmUp) assert.fail(`PICAS_REQUIRE_SLURM=1 but ${SLURM_SKIP}`);
  assert.ok(existsSync(workerBin), `picas-worker is not built (${workerBin}): npx tsc -b packages/worker`);
  // the tokens wait for a gate that the test opens once the status watcher's token has expired: the watcher
  // is then sure to call FirecREST again with the expired token, however slow this machine is
  const gate = join(scratchDir('picas-firecrest-gate-'), 'open');
  const db = await poolWithTokens(Array.from({ length: 6 }, (_, i) => `until [ -e '${gate}' ]; do sleep 0.2; done; sleep 0.5; echo token ${i} done`));
  const standin = await startFirecrestStandin({ runner });
  const { cwd, workdir } = places(standin);
  const env = { ...db.env, ...standin.env() };
  const password = db.env.PICAS_PASSWORD;
  const client = clientFor(standin);
  try {
    // a 429 storm on the submits is waited out
    standin.injectFault({ status: 429, retryAfter: '1', count: 3, method: 'POST', pathIncludes: '/jobs' });
    const submit = await runCli(['firecrest', 'submit', '-n', '2', '--time', '00:10:00', '--workdir', workdir, '--worker-command', workerCommand, '--lease', '30s'], { env, cwd });
    assert.equal(submit.exitCode, 0, `submit failed:\n${submit.stderr}`);
    const jobIds = String(submit.stdout).trim().split('\n');
    assert.equal(jobIds.length, 2);
    assert.deepEqual([...jobIds].sort(), standin.jobIds().sort());
    assert.equal(standin.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/jobs') && r.status === 429).length, 3);
    assert.match(String(submit.stderr), /429 rate limited; trying again in 1\.0 s/);

    // `status --wait` polls until the pilots are done; its token expires mid-run and is renewed
    const since = standin.requests.length;
    const tokensBefore = standin.tokensIssued;
    const watching = runCli(['firecrest', 'status', '--wait', '--interval', '1s'], { env, cwd });
    await waitFor(() => standin.requests.slice(since).some((r) => r.method === 'GET' && /\/jobs(\/|$)/.test(r.path) && r.status === 200), { what: 'status to poll', timeoutMs: 60_000 });
    standin.expireTokens();
    writeFileSync(gate, '');
    const watched = await watching;
    assert.equal(watched.exitCode, 0, `status --wait failed:\n${watched.stderr}`);
    const afterExpiry = standin.requests.slice(since).filter((r) => r.path !== STANDIN_TOKEN_PATH);
    const refused = afterExpiry.findIndex((r) => r.status === 401);
    assert.ok(refused >= 0 && afterExpiry[refused]!.message === 'Access token has expired', 'the expired token was refused');
    assert.equal(afterExpiry[refused + 1]?.status, 200, 'and the call went through with a renewed token');
    assert.equal(standin.tokensIssued, tokensBefore + 2);

    assert.deepEqual(await counts(db.couch), { done: 6 });
    const status = await runCli(['firecrest', 'status', '--json', '--all'], { env, cwd });
    assert.equal(status.exitCode, 0, status.stderr as string);
    const report = JSON.parse(String(status.stdout));
    assert.deepEqual(report.tokens, { todo: 0, locked: 0, done: 6, error: 0 });
    assert.deepEqual(report.pilots.map((p: any) => [p.state, p.exitCode]), [['COMPLETED', 0], ['COMPLETED', 0]]);
    // each pilot kept its record: started through FirecREST, on this system, with its Slurm job id under Slurm
    const records = await listPilots(db.couch);
    assert.deepEqual(records.map((p) => [p.launcher, p.shown]), [['firecrest cluster', 'finished'], ['firecrest cluster', 'finished']]);
    if (runner === 'slurm') assert.deepEqual(records.map((p) => p.slurm_job_id_raw).sort(), [...jobIds].sort());
    const text = await runCli(['firecrest', 'status', '--all'], { env, cwd });
    assert.match(String(text.stdout), /tokens in .*: todo 0, locked 0, done 6, error 0\npilots: 2 completed\n/);

    // the tokens ran in both pilots, which logged to the job's output files in the working directory
    const done = await db.couch.http.expectOk<{ rows: Array<{ doc: Record<string, unknown> }> }>({ path: db.couch.http.dbPath('/_all_docs'), query: { include_docs: true, startkey: 'token_', endkey: 'token_\ufff0' } });
    assert.equal(done.rows.length, 6);
    for (const id of jobIds) assert.ok(existsSync(join(workdir, `picas-pilot-${id}.out`)), `pilot log of job ${id}`);
    if (runner === 'slurm') {
      const jobFields = JSON.stringify(done.rows.map((r) => r.doc));
      assert.ok(jobIds.some((id) => jobFields.includes(id)), 'the tokens record the Slurm job ids of the pilots');
    }

    // no secret in the script, the state file or the CLI output; the job env did carry the password
    for (const id of jobIds) {
      const meta = await client.jobMetadata(standin.system, id);
      assert.match(meta.script ?? '', /exec \$\{PICAS_WORKER_CMD:-picas-worker\}/);
      assert.match(meta.script ?? '', /#SBATCH --time=00:10:00/);
      if (password) assert.ok(!(meta.script ?? '').includes(password), 'no password in the job script');
    }
    const stateFile = join(cwd, '.picas', 'firecrest-pilots.json');
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
    const state = readFileSync(stateFile, 'utf8');
    const scriptFiles = readdirSync(workdir, { withFileTypes: true }).filter((f) => f.name.endsWith('.sh')).map((f) => readFileSync(join(workdir, f.name), 'utf8'));
    assert.equal(scriptFiles.length, 2);
    for (const text of [state, String(submit.stdout), String(submit.stderr), String(watched.stdout), String(watched.stderr), ...scriptFiles]) {
      if (password) assert.ok(!text.includes(password), 'the CouchDB password leaked');
      assert.ok(!text.includes(standin.clientSecret), 'the client secret leaked');
    }
  } finally {
    await client.close();
    await standin.close();
  }
}

async function cancelThroughFirecrest(runner: 'bash' | 'slurm'): Promise<void> {
  if (runner === 'slurm' && !slurmUp) assert.fail(`PICAS_REQUIRE_SLURM=1 but ${SLURM_SKIP}`);
  const db = await poolWithTokens(['sleep 300']);
  const standin = await startFirecrestStandin({ runner });
  const { cwd, workdir } = places(standin);
  const env = { ...db.env, ...standin.env() };
  try {
    const submit = await runCli(['firecrest', 'submit', '--workdir', workdir, '--worker-command', workerCommand, '--json'], { env, cwd });
    assert.equal(submit.exitCode, 0, `submit failed:\n${submit.stderr}`);
    const [jobId] = JSON.parse(String(submit.stdout)).jobIds as string[];
    await waitFor(async () => (await counts(db.couch)).locked === 1, { what: 'the pilot to claim the token', timeoutMs: 60_000 });

    const usage = await runCli(['firecrest', 'cancel'], { env, cwd });
    assert.equal(usage.exitCode, 1);
    assert.match(String(usage.stderr), /give the job ids to cancel, or --all/);

    const cancel = await runCli(['firecrest', 'cancel', '--all'], { env, cwd });
    assert.equal(cancel.exitCode, 0, `cancel failed:\n${cancel.stderr}`);
    assert.equal(String(cancel.stdout).trim(), `cancelled ${jobId}`);
    const pilot = await waitFor(async () => {
      const status = await runCli(['firecrest', 'status', '--json', '--all'], { env, cwd });
      const p = JSON.parse(String(status.stdout)).pilots[0];
      return p.state === 'CANCELLED' ? p : undefined;
    }, { what: 'the pilot to be cancelled', timeoutMs: 60_000, intervalMs: 500 });
    assert.match(pilot.rawState, /^CANCELLED/);
    // the worker got SIGTERM and put its token back
    await waitFor(async () => (await counts(db.couch)).todo === 1, { what: 'the token to go back to todo', timeoutMs: 30_000 });

    const nothing = await runCli(['firecrest', 'cancel', '--all'], { env, cwd });
    assert.equal(nothing.exitCode, 0);
    assert.match(String(nothing.stderr), /no unfinished pilots to cancel/);
  } finally {
    await standin.close();
  }
}

test('submit -n 2 through FirecREST (bash jobs): two real pilots drain the pool; status; no secrets leak', () => drainThroughFirecrest('bash'));

test('submit -n 2 through FirecREST into real Slurm: two pilots drain the pool', slurmOptions(), () => drainThroughFirecrest('slurm'));

test('cancel --all stops a running pilot (bash job) and its token goes back to todo', () => cancelThroughFirecrest('bash'));

test('cancel --all stops a running pilot in real Slurm', slurmOptions(), () => cancelThroughFirecrest('slurm'));

test('wrong credentials: a clear error naming AUTH_TOKEN_URL, exit 3, nothing submitted', async () => {
  const db = await poolWithTokens(['true']);
  const standin = await startFirecrestStandin({ runner: 'bash' });
  const { cwd, workdir } = places(standin);
  try {
    const secret = 'wrong-secret-value-42';
    const res = await runCli(['firecrest', 'submit', '-n', '2', '--workdir', workdir], { env: { ...db.env, ...standin.env(), FIRECREST_CLIENT_SECRET: secret }, cwd });
    assert.equal(res.exitCode, 3, String(res.stderr));
    assert.match(String(res.stderr), /picas: FirecREST login failed at AUTH_TOKEN_URL http:\/\/127\.0\.0\.1:\d+\/auth\/\S+ \(401: invalid_client \(Invalid client or Invalid client credentials\)\)/);
    assert.ok(!String(res.stderr).includes(secret));
    assert.deepEqual(standin.jobIds(), []);
    assert.equal(existsSync(join(cwd, '.picas', 'firecrest-pilots.json')), false);

    const status = await runCli(['firecrest', 'status'], { env: { ...db.env, ...standin.env(), FIRECREST_CLIENT_SECRET: secret }, cwd });
    assert.equal(status.exitCode, 0, 'nothing remembered: status needs no login');
  } finally {
    await standin.close();
  }
});

test('--only-if-todo submits nothing when no token is waiting', async () => {
  const db = await poolWithTokens([]);
  const standin = await startFirecrestStandin({ runner: 'bash' });
  const { cwd, workdir } = places(standin);
  try {
    const res = await runCli(['firecrest', 'submit', '-n', '3', '--workdir', workdir, '--only-if-todo', '--json'], { env: { ...db.env, ...standin.env() }, cwd });
    assert.equal(res.exitCode, 0, String(res.stderr));
    assert.deepEqual(JSON.parse(String(res.stdout)), { jobIds: [], submitted: false, todo: 0 });
    assert.match(String(res.stderr), /no tokens waiting in .*: nothing submitted/);
    assert.deepEqual(standin.jobIds(), []);
  } finally {
    await standin.close();
  }
});

test('examples/firecrest/standin.mjs serves a stand-in that `picas firecrest` can use as printed', async () => {
  const db = await poolWithTokens(['echo one', 'echo two']);
  const child = spawn(process.execPath, [join(repoRoot, 'examples/firecrest/standin.mjs')], { env: cleanEnv() as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const settings: Record<string, string> = {};
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) {
      const match = /^export ([A-Z_]+)=(.*)$/.exec(line);
      if (match) settings[match[1]!] = match[2]!;
      if (line.startsWith('# FirecREST stand-in ready')) break;
    }
    assert.deepEqual(Object.keys(settings).sort(), ['AUTH_TOKEN_URL', 'FIRECREST_CLIENT_ID', 'FIRECREST_CLIENT_SECRET', 'FIRECREST_SYSTEM', 'FIRECREST_URL', 'PICAS_FIRECREST_WORKDIR']);
    const cwd = scratchDir('picas-firecrest-cli-');
    const submit = await runCli(['firecrest', 'submit', '--worker-command', workerCommand], { env: { ...db.env, ...settings }, cwd });
    assert.equal(submit.exitCode, 0, String(submit.stderr));
    await waitFor(async () => (await counts(db.couch)).done === 2, { what: 'the pilot to run both tokens', timeoutMs: 60_000 });
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'the stand-in stops cleanly on SIGTERM');
  }
});

test('bad input: every problem at once, exit 1; --dry-run shows the job with secrets masked', async () => {
  const standin = await startFirecrestStandin({ runner: 'bash' });
  const cwd = scratchDir('picas-firecrest-cli-');
  try {
    const bad = await runCli(['firecrest', 'submit', '-n', '2', '--workdir', 'relative', '--time', 'soon', '--slots', '0'], { env: { FIRECREST_URL: 'nope', PICAS_URL: 'http://127.0.0.1:9' }, cwd });
    assert.equal(bad.exitCode, 1);
    const stderr = String(bad.stderr);
    for (const expected of [/--firecrest-url \(from env FIRECREST_URL\): not a valid URL/, /AUTH_TOKEN_URL is not set/, /FIRECREST_CLIENT_ID is not set/, /FIRECREST_CLIENT_SECRET is not set/, /FIRECREST_SYSTEM is not set/, /--workdir: 'relative' must be an absolute path/, /--time: 'soon' is not a Slurm time limit/, /--slots .*must be at least 1/]) {
      assert.match(stderr, expected);
    }
    assert.equal((await runCli(['firecrest', 'submit', '-n', '0'], { cwd })).exitCode, 1);

    const env = { PICAS_URL: 'http://couch.example.org:5984', PICAS_DB: 'pool', PICAS_USERNAME: 'me', PICAS_PASSWORD: 'very-secret-pw', FIRECREST_SYSTEM: 'daint' };
    const dry = await runCli(['firecrest', 'submit', '-n', '3', '--workdir', '/scratch/me/picas', '--time', '01:00:00', '--partition', 'normal', '--account', 'g123', '--lease', '2m', '--dry-run'], { env, cwd });
    assert.equal(dry.exitCode, 0, String(dry.stderr));
    assert.match(String(dry.stdout), /^#!\/bin\/bash\n#SBATCH --job-name=picas-pilot\n#SBATCH --time=01:00:00\n#SBATCH --partition=normal\n#SBATCH --account=g123\n/);
    assert.match(String(dry.stderr), /Would submit 3 jobs on system daint/);
    assert.match(String(dry.stderr), /env PICAS_PASSWORD=\*\*\*/);
    assert.match(String(dry.stderr), /env PICAS_LEASE=/);
    assert.ok(!String(dry.stdout).includes('very-secret-pw') && !String(dry.stderr).includes('very-secret-pw'));
    assert.deepEqual(standin.jobIds(), []);
  } finally {
    await standin.close();
  }
});
