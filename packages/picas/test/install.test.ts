/**
 * picas as a user installs it, far from this repository: `npm run release` (scripts/release.mjs), then
 * `npm install -g` of its tarball into an empty prefix (dependencies from the npm registry) and, with only
 * that prefix's bin and node's folder on PATH: --version, init, push, picas-worker drains the pool on the
 * embedded server that install starts, status shows it done; the library and its declarations from the
 * installed package; an old node refused in one line; a Slurm array submitted from the installed picas. The
 * same with only the single files dist/picas.mjs and dist/picas-worker.mjs copied into an empty folder.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { gitCommit } from '@picas/core/build-stamp';
import { freshDatabase, repoRoot, scratchDir, realSlurm, waitForSlurmJobEnd } from '@picas/testkit';

const version = (JSON.parse(readFileSync(join(repoRoot, 'packages/picas/package.json'), 'utf8')) as { version: string }).version;
// with the commit the bundles were built from, when this is a git checkout
const commit = gitCommit(repoRoot) ? ' \\(commit [0-9a-f]{7,}\\)' : '';
const versionLine = new RegExp(`^${version.replace(/\./g, '\\.')}${commit}$`);
const nodeDir = dirname(process.execPath);

// one folder for the whole file (the install is shared by its tests), removed at the end
const root = mkdtempSync(join(tmpdir(), 'picas-install-'));
after(() => rmSync(root, { recursive: true, force: true, maxRetries: 2 }));
// node reports an old version: what the commands see on Node 18 (none is installed to run them on)
writeFileSync(join(root, 'old-node.mjs'), "Object.defineProperty(process.versions, 'node', { value: '18.20.4' });\n");
const OLD_NODE = `--import=${join(root, 'old-node.mjs')}`;

interface Install {
  dir: string;
  prefix: string;
  /** the installed package's folder */
  packageDir: string;
  /** PATH: the prefix's bin and node's folder, nothing else of this machine but the system's */
  path: string;
}

let install: Install;

before(async () => {
  const dir = root;
  const started = Date.now();
  const release = await execa(process.execPath, [join(repoRoot, 'scripts/release.mjs'), '--out', join(dir, 'release'), '--quiet'], { env: { PICAS_SKIP_BUILD: '1' }, reject: false });
  assert.equal(release.exitCode, 0, release.stderr);
  const tarball = readdirSync(join(dir, 'release')).find((f) => f.endsWith('.tgz'));
  assert.equal(tarball, `picas-${version}.tgz`);
  const sums = readFileSync(join(dir, 'release', 'SHA256SUMS'), 'utf8');
  assert.deepEqual(sums.trim().split('\n').map((l) => l.split(/\s+/)[1]), [tarball, 'picas.mjs', 'picas-worker.mjs']);
  const check = await execa('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(dir, 'release'), reject: false });
  assert.equal(check.exitCode, 0, check.stdout + check.stderr);
  const released = Date.now();

  const prefix = join(dir, 'prefix');
  const npm = await execa('npm', ['install', '-g', join(dir, 'release', tarball!), '--prefix', prefix, '--cache', join(dir, 'npm-cache'), '--no-audit', '--no-fund', '--loglevel', 'error'], {
    env: { npm_config_userconfig: join(dir, 'npmrc') },
    reject: false,
    timeout: 600_000,
  });
  assert.equal(npm.exitCode, 0, npm.stderr);
  const du = await execa('du', ['-sk', prefix]);
  process.stderr.write(`# release ${released - started} ms, npm install -g ${Date.now() - released} ms, installed ${Math.round(Number(du.stdout.split(/\s/)[0]) / 1024)} MiB\n`);
  install = { dir, prefix, packageDir: join(prefix, 'lib', 'node_modules', 'picas'), path: `${join(prefix, 'bin')}:${nodeDir}:/usr/bin:/bin` };
});

/** A command of the install, run in `cwd` with the install's PATH and nothing of the test's environment. */
function installed(command: string, args: readonly string[], options: { cwd: string; env?: Record<string, string>; nodeOptions?: string }) {
  return execa(command, args, {
    cwd: options.cwd,
    env: { PATH: install.path, HOME: install.dir, LANG: 'C.UTF-8', ...(options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {}), ...options.env },
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
}

/** `picas server` of the install, in `cwd`, until the test ends. */
async function installedServer(cwd: string): Promise<string> {
  const proc = execa('picas', ['server', '--port', '0', '--in-memory'], { cwd, env: { PATH: install.path, HOME: install.dir }, extendEnv: false, reject: false, forceKillAfterDelay: 5000 });
  after(async () => {
    proc.kill('SIGTERM');
    await proc;
  });
  let text = '';
  proc.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      text += `${line}\n`;
      const listening = /listening on (http:\/\/\S+)/.exec(line);
      if (listening) resolve(listening[1]!);
    });
    void proc.then((r) => reject(new Error(`picas server exited before it was ready (exit ${r.exitCode}):\n${text}`)));
  });
}

test('npm install -g of the release tarball: picas and picas-worker drain a pool on the embedded server of the install', async () => {
  const work = join(install.dir, 'work');
  mkdirSync(work);
  const v = await installed('picas', ['--version'], { cwd: work });
  assert.equal(v.exitCode, 0, v.stderr);
  assert.match(v.stdout, versionLine);
  const wv = await installed('picas-worker', ['--version'], { cwd: work });
  assert.equal(wv.exitCode, 0, wv.stderr);
  assert.match(wv.stdout, new RegExp(`^picas-worker ${version.replace(/\./g, '\\.')}${commit} \\(self-contained bundle; node `));

  await installedServer(work);
  writeFileSync(join(work, 'tokens.txt'), 'echo one\necho two\necho three\n');
  const init = await installed('picas', ['init'], { cwd: work });
  assert.equal(init.exitCode, 0, init.stderr);
  const push = await installed('picas', ['push', 'tokens.txt'], { cwd: work });
  assert.equal(push.exitCode, 0, push.stderr);
  assert.match(push.stdout, /pushed 3 tokens/);
  const worker = await installed('picas-worker', [], { cwd: work });
  assert.equal(worker.exitCode, 0, worker.stderr);
  assert.match(worker.stdout, /done 3, failed 0/);
  const status = await installed('picas', ['status'], { cwd: work });
  assert.equal(status.exitCode, 0, status.stderr);
  assert.match(status.stdout, /^ {2}done +3$/m);
  assert.match(status.stdout, /^ {2}todo +0$/m);
});

test('the installed package: the library and its type declarations (no @picas/* names), and an old node refused in one line', async () => {
  const app = join(install.dir, 'app');
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(install.packageDir, join(app, 'node_modules', 'picas'));
  writeFileSync(join(app, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(app, 'app.ts'),
    [
      "import { connect, runPilot, UsageError, type Pool, type RunPilotOptions, type WorkFunction } from 'picas';",
      'const work: WorkFunction = async (token, ctx) => { ctx.log(`input ${String(token.input)}`); return { ok: true }; };',
      "const options: Pick<RunPilotOptions, 'work'> = { work };",
      'const open: (options?: Parameters<typeof connect>[0]) => Pool = connect;',
      "console.log(typeof open === 'function' && typeof runPilot === 'function' && typeof options.work === 'function' && new UsageError('x') instanceof Error);",
      '',
    ].join('\n'),
  );
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: false, types: [], outDir: 'out' }, files: ['app.ts'] }));
  const tsc = await execa(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app, reject: false });
  assert.equal(tsc.exitCode, 0, tsc.stdout + tsc.stderr);
  const run = await installed('node', ['out/app.js'], { cwd: app });
  assert.equal(run.exitCode, 0, run.stderr);
  assert.equal(run.stdout, 'true');
  const declarations = await execa('grep', ['-rl', '@picas/', join(install.packageDir, 'dist', 'types')], { reject: false });
  assert.equal(declarations.stdout, '', 'declarations that import unpublished @picas/* names');

  for (const command of ['picas', 'picas-worker']) {
    const old = await installed(command, ['--version'], { cwd: app, nodeOptions: OLD_NODE });
    assert.equal(old.exitCode, 1, old.stdout);
    assert.equal(old.stdout, '');
    assert.match(old.stderr, new RegExp(`^${command}: needs Node\\.js >= 20\\.19\\.0, but this is node 18\\.20\\.4 \\(`));
    assert.equal(old.stderr.trim().split('\n').length, 1, old.stderr);
  }
});

test('the single files dist/picas.mjs and dist/picas-worker.mjs alone in an empty folder, with node: picas launch local runs the one beside; an old node refused', async () => {
  const dir = scratchDir('picas-single-');
  for (const name of ['picas.mjs', 'picas-worker.mjs']) copyFileSync(join(repoRoot, 'dist', name), join(dir, name));
  const db = await freshDatabase('single files', { create: false });
  const plain = (args: readonly string[]) =>
    execa(process.execPath, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', ...db.env }, extendEnv: false, reject: false, timeout: 120_000 });

  const v = await plain(['picas.mjs', '--version']);
  assert.equal(v.exitCode, 0, v.stderr);
  assert.match(v.stdout, versionLine);
  writeFileSync(join(dir, 'tokens.txt'), 'echo one\necho two\n');
  const init = await plain(['picas.mjs', 'init']);
  assert.equal(init.exitCode, 0, init.stderr);
  const push = await plain(['picas.mjs', 'push', 'tokens.txt']);
  assert.equal(push.exitCode, 0, push.stderr);
  assert.match(push.stdout, /pushed 2 tokens/);
  const worker = await plain(['picas-worker.mjs']);
  assert.equal(worker.exitCode, 0, worker.stderr);
  assert.match(worker.stdout, /done 2, failed 0/);
  // picas launch local starts the picas-worker.mjs beside picas.mjs (the PATH has no picas-worker)
  writeFileSync(join(dir, 'more.txt'), 'echo three\necho four\n');
  const more = await plain(['picas.mjs', 'push', 'more.txt']);
  assert.equal(more.exitCode, 0, more.stderr);
  const launch = await plain(['picas.mjs', 'launch', 'local', '-n', '1', '--log-format', 'text']);
  assert.equal(launch.exitCode, 0, launch.stderr);
  assert.match(launch.stdout + launch.stderr, /done 2, failed 0/);
  const status = await plain(['picas.mjs', 'status']);
  assert.match(status.stdout, /^ {2}done +4$/m);

  const server = await plain(['picas.mjs', 'server', '--port', '0', '--in-memory']);
  assert.equal(server.exitCode, 1);
  assert.equal(server.stderr, `picas: picas server needs the package install (npm install -g picas, see the README's Install section): this picas (${join(dir, 'picas.mjs')}) has no embedded server; give the other commands a CouchDB with --url or PICAS_URL`);
  const old = await plain([OLD_NODE, 'picas.mjs', '--version']);
  assert.equal(old.exitCode, 1);
  assert.equal(old.stderr, `picas: needs Node.js >= 20.19.0, but this is node 18.20.4 (${process.execPath}); load a newer node (e.g. module load nodejs/22)`);
  // and `picas` and `picas-worker` of a checkout (bin/), the same entries unbundled
  const checkout = await plain([OLD_NODE, join(repoRoot, 'packages/cli/dist/src/bin.js'), '--version']);
  assert.equal(checkout.exitCode, 1);
  assert.equal(checkout.stderr, old.stderr);
  const checkoutWorker = await execa(join(repoRoot, 'bin/picas-worker'), ['--version'], { cwd: dir, env: { PATH: `${nodeDir}:/usr/bin:/bin`, NODE_OPTIONS: OLD_NODE }, extendEnv: false, reject: false });
  assert.equal(checkoutWorker.exitCode, 1);
  assert.match(checkoutWorker.stderr, /^picas-worker: needs Node\.js >= 20\.19\.0, but this is node 18\.20\.4 \([^\n]+\)[^\n]+$/);
});

const slurm = await realSlurm();

test('a Slurm array submitted from the installed picas drains a pool with the installed picas-worker', { skip: slurm.skip }, async () => {
  const dir = join(install.dir, 'slurm');
  mkdirSync(dir);
  const db = await freshDatabase('install slurm', { create: false });
  writeFileSync(join(dir, 'tokens.txt'), Array.from({ length: 6 }, (_, i) => `echo ${i}`).join('\n') + '\n');
  for (const args of [['init'], ['push', 'tokens.txt']]) {
    const run = await installed('picas', args, { cwd: dir, env: db.env });
    assert.equal(run.exitCode, 0, run.stderr);
  }
  // the pilots run the worker of the install (its path, with this node), not one of this repository
  const dry = await installed('picas', ['slurm', 'submit', '--array', '1-2', '--time', '5:00', '--dry-run'], { cwd: dir, env: db.env });
  assert.equal(dry.exitCode, 0, dry.stderr);
  assert.ok(dry.stderr.includes(`PICAS_WORKER_CMD=${process.execPath} --max-semi-space-size=8 ${join(install.packageDir, 'dist', 'picas-worker.mjs')}`), dry.stderr);
  const submit = await installed('picas', ['slurm', 'submit', '--array', '1-2', '--time', '5:00', '--chdir', dir, '--job-name', 'picas-install-test', '--output', 'pilot-%A_%a.out'], { cwd: dir, env: db.env });
  assert.equal(submit.exitCode, 0, submit.stderr);
  const jobId = submit.stdout.trim();
  slurm.track(jobId);
  await waitForSlurmJobEnd(jobId, 2);
  const logs = readdirSync(dir).filter((f) => f.startsWith(`pilot-${jobId}_`)).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
  const status = await installed('picas', ['status'], { cwd: dir, env: db.env });
  assert.match(status.stdout, /^ {2}done +6$/m, logs);
});
