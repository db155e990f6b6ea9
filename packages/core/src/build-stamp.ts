/**
 * picas's version and the git commit it was built from, for `picas --version` and `picas-worker --version`.
 * The bundler (scripts/bundle.mjs) stamps both into the bundles and so into the npm package; unbundled (a
 * checkout) the version comes from the package's package.json and the commit from git, asked only when a
 * version is shown. A copy without git (a tarball of the sources) just has no commit.
 * No imports of picas modules: the bundles' entries use it before loading anything else.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BuildStamp {
  version: string;
  /** the abbreviated git commit, when built from a git checkout */
  commit?: string;
}

/** Set by the bundler (esbuild `define`); undefined when this file runs unbundled. */
declare const __PICAS_BUILD__: BuildStamp | undefined;

/** True inside a bundle (dist/picas.mjs, dist/picas-worker.mjs, the npm package's files), false in a checkout. */
export function bundled(): boolean {
  return typeof __PICAS_BUILD__ === 'object';
}

/** The version alone (no git asked): the bundle's stamp, else the one in `packageJson`. */
export function packageVersion(packageJson: URL): string {
  if (typeof __PICAS_BUILD__ === 'object') return __PICAS_BUILD__.version;
  try {
    return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  } catch {
    // a damaged installation still answers --version
    return 'unknown';
  }
}

/** The stamp of a bundle, else the version in `packageJson` and the commit of the checkout it is in. */
export function buildStamp(packageJson: URL): BuildStamp {
  if (typeof __PICAS_BUILD__ === 'object') return __PICAS_BUILD__;
  return { version: packageVersion(packageJson), commit: gitCommit(fileURLToPath(new URL('.', packageJson))) };
}

/** The abbreviated commit of the git checkout that holds `dir`; undefined without git or outside a checkout. */
export function gitCommit(dir: string): string | undefined {
  try {
    const out = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `0.1.0 (commit 0123456789ab)`, or `0.1.0` without a commit. */
export function describeBuild(stamp: BuildStamp): string {
  return stamp.commit ? `${stamp.version} (commit ${stamp.commit})` : stamp.version;
}
