#!/usr/bin/env node
// The single files (also the last step of `npm run build`), built from the compiled packages
// (packages/*/dist), so `tsc -b` comes first:
//   dist/picas-worker.mjs  picas-worker and every dependency, for clusters where nothing is installed; the
//                          launchers stage it (docs/launch.md)
//   dist/picas.mjs         the whole `picas` command line, the dashboard page and its chart library included;
//                          the embedded server (pouchdb, with its native leveldown) is not in it: it loads
//                          picas-server.mjs from beside itself, which only the npm package has
// Both run with a plain `node` >= 20.19 and check that first. With --package, also the npm package's files
// in packages/picas/dist: those two, picas-server.mjs, library.mjs (@picas/library) and its type
// declarations (types/). `npm run release` (scripts/release.mjs) packs them.
//
//   node scripts/bundle.mjs [--package] [--quiet]
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = join(root, 'dist');
export const packageDir = join(root, 'packages', 'picas');
export const defaultBundlePath = join(distDir, 'picas-worker.mjs');
export const cliBundlePath = join(distDir, 'picas.mjs');

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

/** `import('@picas/server')` in the CLI: the file picas-server.mjs beside the bundle, loaded only by `picas server`. */
const serverBeside = {
  name: 'picas-server-beside',
  setup(build) {
    build.onResolve({ filter: /^@picas\/server$/ }, () => ({ path: './picas-server.mjs', external: true }));
  },
};

function compiled(pkg, file) {
  const path = join(root, 'packages', pkg, 'dist', 'src', file);
  if (!existsSync(path)) throw new Error(`${path} is missing: build the packages first (npx tsc -b)`);
  return path;
}

/** The version and commit stamped into every bundle (core's build-stamp.ts reads them back). */
async function stamp() {
  const { gitCommit } = await import(pathToFileURL(compiled('core', 'build-stamp.js')).href);
  const version = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version;
  const commit = gitCommit(root);
  return commit ? { version, commit } : { version };
}

/** One self-contained ES module for node >= 20.19 (what every bundle here shares). */
async function bundle({ entry, out, banner, define = {}, plugins = [], external = [], quiet, label }) {
  const { build } = await import('esbuild');
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
    define: { __PICAS_BUILD__: JSON.stringify(await stamp()), ...define },
    external,
    // CommonJS dependencies require node's built-in modules: give them a real `require`
    banner: {
      js: `${banner}\nimport { createRequire as __picasCreateRequire } from 'node:module';\nconst require = __picasCreateRequire(import.meta.url);`,
    },
    plugins: [ownModules, ...plugins],
  });
  if (result.errors.length > 0) throw new Error('esbuild failed');
  const bytes = statSync(out).size;
  if (!quiet) console.error(`${label} bundle: ${relative(root, out)} (${(bytes / 1024).toFixed(0)} KiB, ${Date.now() - started} ms)`);
  return { path: out, bytes };
}

export async function bundleWorker({ out = defaultBundlePath, quiet = false } = {}) {
  return bundle({
    entry: compiled('worker', 'bundle-entry.js'),
    out,
    banner: '#!/usr/bin/env node\n// picas-worker, self-contained (built by scripts/bundle.mjs): node picas-worker.mjs --help',
    quiet,
    label: 'picas-worker',
  });
}

export async function bundleCli({ out = cliBundlePath, quiet = false } = {}) {
  const { embeddedStaticFiles } = await import(pathToFileURL(compiled('dashboard', 'static-files.js')).href);
  return bundle({
    entry: compiled('cli', 'bin.js'),
    out,
    // the entry (bin.js) has the #! line, which esbuild puts first
    banner: '// picas, self-contained (built by scripts/bundle.mjs): node picas.mjs --help',
    define: { __PICAS_DASHBOARD_FILES__: JSON.stringify(embeddedStaticFiles()) },
    plugins: [serverBeside],
    quiet,
    label: 'picas',
  });
}

/** The npm package's runtime dependencies: the embedded server's, which stay outside every bundle. */
export function serverDependencies() {
  const { dependencies } = JSON.parse(readFileSync(join(root, 'packages', 'server', 'package.json'), 'utf8'));
  return Object.fromEntries(Object.entries(dependencies).filter(([name]) => !name.startsWith('@picas/')));
}

/**
 * packages/picas/dist: the two single files (copied from dist/, which must be built: `npm run build`), the
 * embedded server, the library and its declarations.
 */
export async function bundlePackage({ quiet = false } = {}) {
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const wanted = serverDependencies();
  if (JSON.stringify(pkg.dependencies) !== JSON.stringify(wanted)) {
    throw new Error(`packages/picas/package.json: "dependencies" must be the embedded server's, ${JSON.stringify(wanted)}`);
  }
  const out = join(packageDir, 'dist');
  for (const name of ['picas.mjs', 'picas-worker.mjs', 'picas-server.mjs', 'library.mjs', 'types']) rmSync(join(out, name), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // the package's commands are the single files themselves
  for (const single of [defaultBundlePath, cliBundlePath]) {
    if (!existsSync(single)) throw new Error(`${single} is missing: build it first (npm run build)`);
    copyFileSync(single, join(out, basename(single)));
  }
  await bundle({
    entry: compiled('server', 'index.js'),
    out: join(out, 'picas-server.mjs'),
    banner: '// the embedded CouchDB-compatible server of `picas server` (built by scripts/bundle.mjs)',
    external: Object.keys(wanted),
    quiet,
    label: 'picas server',
  });
  await bundle({
    entry: compiled('library', 'index.js'),
    out: join(out, 'library.mjs'),
    banner: "// picas as a library: import { ... } from 'picas' (built by scripts/bundle.mjs)",
    quiet,
    label: 'picas library',
  });
  copyDeclarations(join(root, 'packages', 'library', 'dist', 'src', 'index.d.ts'), join(out, 'types'));
  return out;
}

/**
 * The library's type declarations without the unpublished @picas/* names: every .d.ts reachable from the
 * library's index.d.ts, copied to types/<package>/<path>, with `@picas/x[/sub]` rewritten to relative paths.
 */
function copyDeclarations(entry, outDir) {
  const packagesDir = join(root, 'packages');
  const declarationOf = (pkg, sub) => join(packagesDir, pkg, 'dist', 'src', `${sub ?? 'index'}.d.ts`);
  const target = (file) => join(outDir, relative(packagesDir, file).replace(`${join('dist', 'src')}/`, ''));
  const seen = new Set();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8').replace(/((?:from|import)\s*\(?\s*)(['"])([^'"]+)\2/g, (all, lead, quote, spec) => {
      let dependency;
      const picas = /^@picas\/([^/]+)(?:\/(.+))?$/.exec(spec);
      if (picas) dependency = declarationOf(picas[1], picas[2]);
      else if (spec.startsWith('.')) dependency = resolve(dirname(file), spec.replace(/\.js$/, '.d.ts'));
      else return all; // node's and third-party types stay as they are
      if (!existsSync(dependency)) throw new Error(`${file}: no declarations for '${spec}' (${dependency})`);
      queue.push(dependency);
      let rel = relative(dirname(target(file)), target(dependency)).replace(/\.d\.ts$/, '.js');
      if (!rel.startsWith('.')) rel = `./${rel}`;
      return `${lead}${quote}${rel}${quote}`;
    });
    mkdirSync(dirname(target(file)), { recursive: true });
    writeFileSync(target(file), text);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const quiet = args.includes('--quiet');
  try {
    await bundleWorker({ quiet });
    await bundleCli({ quiet });
    if (args.includes('--package')) await bundlePackage({ quiet });
  } catch (err) {
    console.error(`picas bundle: ${err.message}`);
    process.exit(1);
  }
}
