/**
 * The self-contained picas-worker (dist/picas-worker.mjs): it runs from a directory far from this repository
 * (its dependencies, YAML config and all, are inside), prints its version, and refuses an old node in one
 * line; the pilot script checks node before running it (missing, too old, --prelude); staging copies it once
 * under its content name; and `picas slurm submit --stage DIR` runs it from DIR on real Slurm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { gitCommit } from '@picas/core/build-stamp';
import { readWorkerBundle, renderPilotScript, stageWorkerBundle, workerBundlePath } from '@picas/launch';
import { repoRoot, runCli, scratchDir, realSlurm, waitForSlurmJobEnd } from '@picas/testkit';
import { tokenPool, tokensByState } from './token-pool.js';

const bundlePath = join(repoRoot, 'dist', 'picas-worker.mjs');
const version = JSON.parse(readFileSync(join(repoRoot, 'packages/worker/package.json'), 'utf8')).version as string;
// the version line, with the git commit the bundle was built from (the build's, not necessarily HEAD's) when
// this is a git checkout
const commit = gitCommit(repoRoot) ? ' \\(commit [0-9a-f]{7,}\\)' : '';
const versionLine = new RegExp(`^picas-worker ${version.replace(/\./g, '\\.')}${commit} \\(self-contained bundle; node ${process.versions.node.replace(/\./g, '\\.')}\\)$`);

/** A copy of the bundle in a scratch directory, with no node_modules anywhere above it. */
function bundleCopy(): { dir: string; file: string } {
  assert.ok(existsSync(bundlePath), `the picas-worker bundle is not built (${bundlePath}): npm run bundle`);
  const dir = scratchDir('picas-bundle-');
  const file = join(dir, 'picas-worker.mjs');
  copyFileSync(bundlePath, file);
  return { dir, file };
}

const plain = (env: Record<string, string> = {}) => ({ PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/', LANG: 'C.UTF-8', ...env });

test('the bundle runs on its own: --version, --help, a YAML config file; an old node is refused in one line', async () => {
  const { dir, file } = bundleCopy();
  const v = await execa(process.execPath, [file, '--version'], { cwd: dir, env: plain(), extendEnv: false, reject: false });
  assert.equal(v.exitCode, 0, v.stderr);
  assert.match(v.stdout, versionLine);

  const help = await execa(process.execPath, [file, '--help'], { cwd: dir, env: plain(), extendEnv: false, reject: false });
  assert.equal(help.exitCode, 0, help.stderr);
  assert.match(help.stdout, /^picas-worker \[options\]/);
  assert.match(help.stdout, /--lease/);

  // the config file is YAML (loaded on first use, inside the bundle); the address in it is the one tried
  writeFileSync(join(dir, 'conf.yml'), 'url: http://127.0.0.1:9\ndb: nowhere\n');
  const run = await execa(process.execPath, [file, '--config', 'conf.yml', '--retry-for', '0'], { cwd: dir, env: plain(), extendEnv: false, reject: false });
  assert.equal(run.exitCode, 2, run.stderr);
  assert.match(run.stderr, /picas-worker: cannot reach CouchDB at http:\/\/127\.0\.0\.1:9/);

  // on a terminal the log is one text line per event
  const tty = await execa('script', ['-qec', `${process.execPath} ${file} --config conf.yml --retry-for 0`, '/dev/null'], { cwd: dir, env: plain({ TERM: 'dumb' }), extendEnv: false, reject: false });
  assert.match(tty.stdout, /\d\d:\d\d:\d\d INFO connecting couchdb=/, tty.stdout);
  assert.doesNotMatch(tty.stdout, /"msg":"connecting"/);

  // an old node: the check runs before anything else is loaded, one line, exit 1
  const old = await execa(process.execPath, ['--import', 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"18.20.4"})', file, '--version'], { cwd: dir, env: plain(), extendEnv: false, reject: false });
  assert.equal(old.exitCode, 1);
  assert.equal(old.stdout, '');
  assert.equal(old.stderr, `picas-worker: needs Node.js >= 20.19.0, but this is node 18.20.4 (${process.execPath}); load a newer node (e.g. module load nodejs/22) or point the launcher at one with --node`);
});

test('the pilot script checks node before it runs the bundle: missing, too old, a --prelude, and a good one', async () => {
  const { dir, file } = bundleCopy();
  const script = join(dir, 'pilot.sh');
  writeFileSync(script, renderPilotScript({}));
  const fakes = join(dir, 'old-node');
  mkdirSync(fakes);
  writeFileSync(join(fakes, 'node'), '#!/bin/bash\necho v18.20.4\n', { mode: 0o755 });
  const pilot = (env: Record<string, string>, args: string[] = ['--version'], path = script) =>
    execa('bash', [path, ...args], { cwd: dir, env: plain({ PICAS_WORKER_BUNDLE: file, ...env }), extendEnv: false, reject: false });

  const missing = await pilot({ PICAS_NODE: 'no-such-node' });
  assert.equal(missing.exitCode, 127);
  assert.match(missing.stderr, /picas pilot: error: node not found: 'no-such-node' is not on this node's PATH \(\/usr\/bin:\/bin\); give the launcher --node \/path\/to\/node or --prelude 'module load nodejs\/22'/);

  const old = await pilot({ PATH: `${fakes}:/usr/bin:/bin` });
  assert.equal(old.exitCode, 1);
  assert.match(old.stderr, new RegExp(`picas pilot: error: picas-worker needs node >= 20\\.19\\.0, but ${fakes}/node is 'v18\\.20\\.4'`));
  assert.equal(old.stdout, '');

  // the prelude runs first (here it puts the old node first on PATH, as a wrong `module load` would)
  const withPrelude = join(dir, 'pilot-prelude.sh');
  writeFileSync(withPrelude, renderPilotScript({ prelude: `export PATH="${fakes}:$PATH"` }));
  assert.match(readFileSync(withPrelude, 'utf8'), /^#!\/bin\/bash -l\n/);
  const prelude = await pilot({}, ['--version'], withPrelude);
  assert.equal(prelude.exitCode, 1);
  assert.match(prelude.stderr, /needs node >= 20\.19\.0, but \S+old-node\/node is 'v18\.20\.4'/);

  const gone = await pilot({ PICAS_WORKER_BUNDLE: join(dir, 'nothing.mjs') });
  assert.equal(gone.exitCode, 1);
  assert.match(gone.stderr, /picas pilot: error: the picas-worker bundle \S+nothing\.mjs is missing on /);

  const good = await pilot({ PICAS_NODE: process.execPath });
  assert.equal(good.exitCode, 0, good.stderr);
  assert.match(good.stdout, versionLine);
  assert.match(good.stderr, new RegExp(`picas pilot: running ${file} with ${process.execPath} ${process.version}`));
});

test('staging copies the bundle once, under its content name', () => {
  const bundle = readWorkerBundle(workerBundlePath({}));
  assert.equal(bundle.path, bundlePath);
  assert.match(bundle.stagedName, /^picas-worker-[0-9a-f]{8}\.mjs$/);
  assert.ok(bundle.bytes.length < 5 * 1024 * 1024, `the bundle (${bundle.bytes.length} bytes) fits FirecREST's direct upload`);
  const dir = join(scratchDir('picas-stage-'), 'shared', 'bin');
  const first = stageWorkerBundle(bundle, dir);
  assert.deepEqual(first, { path: join(dir, bundle.stagedName), copied: true });
  assert.ok(readFileSync(first.path).equals(bundle.bytes));
  assert.deepEqual(stageWorkerBundle(bundle, dir), { path: first.path, copied: false });
  assert.deepEqual(readdirSync(dir), [bundle.stagedName]);
  assert.throws(() => readWorkerBundle(join(dir, 'missing.mjs')), /the self-contained picas-worker is not built \(.*missing\.mjs is missing\): run `npm run bundle`/);
});

test('slurm submit --stage: bad combinations are refused; --dry-run shows the copy and the variables, and copies nothing', async () => {
  const db = await tokenPool(import.meta.url);
  const dir = scratchDir('picas-stage-dry-');
  const both = await runCli(['slurm', 'submit', '--stage', dir, '--worker-command', 'picas-worker', '--dry-run'], { env: db.env });
  assert.equal(both.exitCode, 1);
  assert.match(both.stderr, /--stage: runs the self-contained picas-worker; leave out --worker-command/);
  const nodeAlone = await runCli(['slurm', 'submit', '--node', '/opt/node/bin/node', '--dry-run'], { env: db.env });
  assert.equal(nodeAlone.exitCode, 1);
  assert.match(nodeAlone.stderr, /--node: applies to the staged picas-worker; give --stage DIR too/);

  const dry = await runCli(['slurm', 'submit', '--array', '1-2', '--stage', dir, '--node', '/opt/node/bin/node', '--prelude', 'module load nodejs/22', '--dry-run'], { env: db.env });
  assert.equal(dry.exitCode, 0, dry.stderr);
  const name = readWorkerBundle().stagedName;
  assert.match(dry.stderr, new RegExp(`^# {3}PICAS_WORKER_BUNDLE=${join(dir, name)}$`, 'm'));
  assert.match(dry.stderr, /^# {3}PICAS_NODE=\/opt\/node\/bin\/node$/m);
  assert.match(dry.stderr, new RegExp(`# and first copy ${bundlePath} to ${join(dir, name)}`));
  assert.match(dry.stdout, /^set \+u\nmodule load nodejs\/22\nset -u$/m);
  assert.deepEqual(readdirSync(dir), []);
});

const slurm = await realSlurm();

test('slurm submit --stage DIR on real Slurm: pilots with node but no picas on PATH run the staged copy; a second submit reuses it', { skip: slurm.skip }, async () => {
  const dir = scratchDir('picas-stage-slurm-');
  const shared = join(dir, 'shared');
  // the job's PATH: node (a link, as a site's module would give) and the system, no picas
  const nodeDir = join(dir, 'node-bin');
  mkdirSync(nodeDir);
  symlinkSync(process.execPath, join(nodeDir, 'node'));
  const tokens = Array.from({ length: 6 }, (_, i) => ({ id: `staged${i}`, input: `echo ${i}` }));
  const db = await tokenPool(import.meta.url, tokens);
  const env = { ...db.env, PATH: `${nodeDir}:/usr/bin:/bin` };
  const submit = async () => {
    const run = await runCli(['slurm', 'submit', '--array', '1-2', '--time', '5:00', '--chdir', dir, '--stage', shared, '--output', 'pilot-%A_%a.out'], { env, cwd: dir });
    assert.equal(run.exitCode, 0, run.stderr);
    const jobId = run.stdout.trim();
    slurm.track(jobId);
    await waitForSlurmJobEnd(jobId, 2);
    return { jobId, stderr: run.stderr };
  };
  const name = readWorkerBundle().stagedName;
  const first = await submit();
  assert.match(first.stderr, new RegExp(`picas slurm: copied picas-worker \\(\\d+ KiB\\) to ${join(shared, name)}`));
  const logs = readdirSync(dir).filter((f) => f.startsWith(`pilot-${first.jobId}_`)).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
  assert.equal((await tokensByState(db.couch)).done.length, 6, logs);
  assert.equal((logs.match(new RegExp(`picas pilot: running ${join(shared, name)} with ${nodeDir}/node v`, 'g')) ?? []).length, 2, logs);

  const second = await submit();
  assert.match(second.stderr, new RegExp(`picas slurm: picas-worker is already staged at ${join(shared, name)}`));
  assert.deepEqual(readdirSync(shared), [name]);
});
