#!/usr/bin/env node
// `npm run bundle` (also the last step of `npm run build`): one self-contained ES module,
// dist/picas-worker.mjs, holding picas-worker and every dependency, for clusters where nothing is installed.
// Runs with a plain `node` >= 20.19 (`node picas-worker.mjs`); the launchers stage it (docs/launch.md).
// Built from the compiled packages (packages/*/dist), so `tsc -b` comes first.
//
//   node scripts/bundle-worker.mjs [--out FILE] [--quiet]
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const defaultBundlePath = join(root, 'dist', 'picas-worker.mjs');

/**
 * picas loads a few modules on first use through `createRequire(import.meta.url)` (core's lazy-modules.ts
 * and nano in couch/connection.ts). A bundler cannot see through such a `require`, and at run time it would
 * look for node_modules next to the bundle. Without that line, `require('x')` is the bundler's own: the
 * module is inside the bundle and still initialised only when first required.
 */
const LOCAL_REQUIRE = /^const require = createRequire\(import\.meta\.url\);$/m;
const ownModules = {
  name: 'picas-lazy-requires',
  setup(build) {
    build.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!LOCAL_REQUIRE.test(text)) return undefined;
      return { contents: text.replace(LOCAL_REQUIRE, '// (bundled: require is the bundler\'s)'), loader: 'js' };
    });
  },
};

export async function bundleWorker({ out = defaultBundlePath, quiet = false } = {}) {
  const entry = join(root, 'packages/worker/dist/src/bundle-entry.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build the packages first (npx tsc -b)`);
  const { build } = await import('esbuild');
  const version = JSON.parse(readFileSync(join(root, 'packages/worker/package.json'), 'utf8')).version;
  mkdirSync(dirname(out), { recursive: true });
  const started = Date.now();
  const result = await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    minify: true,
    keepNames: true, // error classes name themselves (new.target.name)
    legalComments: 'eof',
    logLevel: 'warning',
    define: { __PICAS_WORKER_VERSION__: JSON.stringify(version) },
    // CommonJS dependencies require node's built-in modules: give them a real `require`
    banner: {
      js: "#!/usr/bin/env node\n// picas-worker, self-contained (built by scripts/bundle-worker.mjs): node picas-worker.mjs --help\nimport { createRequire as __picasCreateRequire } from 'node:module';\nconst require = __picasCreateRequire(import.meta.url);",
    },
    plugins: [ownModules],
  });
  if (result.errors.length > 0) throw new Error('esbuild failed');
  const bytes = statSync(out).size;
  if (!quiet) console.error(`picas-worker bundle: ${out} (${(bytes / 1024).toFixed(0)} KiB, ${Date.now() - started} ms)`);
  return { path: out, bytes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  try {
    await bundleWorker({ out: outIndex >= 0 ? resolve(args[outIndex + 1]) : defaultBundlePath, quiet: args.includes('--quiet') });
  } catch (err) {
    console.error(`picas-worker bundle: ${err.message}`);
    process.exit(1);
  }
}
