// Installs dependencies (npm ci) when they are missing, then builds every package (tsc -b) and the
// single-file bundles (scripts/bundle.mjs).
// Shared by `npm test`, `npm run demo` and `npm run bench`, so each does its own set-up on a fresh clone.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

export function ensureBuilt() {
  if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
    console.error('installing dependencies (npm ci)...');
    run('npm', ['ci', '--no-audit', '--no-fund']);
  }
  // PICAS_SKIP_BUILD=1: for developers who just built the packages they changed
  if (process.env.PICAS_SKIP_BUILD !== '1') {
    run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b']);
    // the single files dist/picas-worker.mjs (the launchers stage it to clusters) and dist/picas.mjs
    run(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--quiet']);
  }
}
