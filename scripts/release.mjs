#!/usr/bin/env node
// `npm run release`: builds everything, then writes release/ (gitignored) with what a user installs:
//   picas-<version>.tgz    the npm package (npm pack of packages/picas): npm install -g ./picas-<version>.tgz
//   picas.mjs              the single-file CLI:    node picas.mjs --help
//   picas-worker.mjs       the single-file pilot:  node picas-worker.mjs --help
//   SHA256SUMS             their checksums:        sha256sum -c SHA256SUMS
//
//   node scripts/release.mjs [--out DIR] [--quiet]      (PICAS_SKIP_BUILD=1 skips the tsc -b step)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { bundlePackage, cliBundlePath, defaultBundlePath, packageDir } from './bundle.mjs';
import { ensureBuilt, root } from './ensure-built.mjs';

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? resolve(args[outIndex + 1]) : join(root, 'release');
const quiet = args.includes('--quiet');

ensureBuilt();
try {
  await bundlePackage({ quiet: true });
} catch (err) {
  console.error(`picas release: ${err.message}`);
  process.exit(1);
}
// npm pack takes the licence from the package's own folder
copyFileSync(join(root, 'LICENSE'), join(packageDir, 'LICENSE'));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const packed = JSON.parse(execFileSync('npm', ['pack', packageDir, '--pack-destination', out, '--json', '--silent'], { cwd: root, encoding: 'utf8' }));
const files = [packed[0].filename, ...[cliBundlePath, defaultBundlePath].map((bundle) => {
  copyFileSync(bundle, join(out, basename(bundle)));
  return basename(bundle);
})];
const sums = files.map((name) => `${createHash('sha256').update(readFileSync(join(out, name))).digest('hex')}  ${name}\n`).join('');
writeFileSync(join(out, 'SHA256SUMS'), sums);
if (!quiet) {
  for (const name of files) console.error(`${relative(process.cwd(), join(out, name)) || name}  ${(statSync(join(out, name)).size / 1024).toFixed(0)} KiB`);
  console.error(`${relative(process.cwd(), join(out, 'SHA256SUMS'))}  (sha256sum -c SHA256SUMS)`);
}
