/**
 * The dashboard page's files: its own (static/) and the chart library's (uPlot). Read from disk when the
 * dashboard runs from its package; the single-file `picas.mjs` has them stamped in by the bundler
 * (scripts/bundle.mjs reads this same list), so the page works with nothing beside it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  type: string;
  body: Buffer;
}

interface StaticSource {
  /** the URL path it is served at */
  path: string;
  /** where the file is on disk, from this module */
  file(): string;
  type: string;
}

const own = (name: string) => () => fileURLToPath(new URL(`../../static/${name}`, import.meta.url));
const uplot = (name: string) => () => createRequire(import.meta.url).resolve(`uplot/dist/${name}`);

export const STATIC_SOURCES: readonly StaticSource[] = [
  { path: '/', file: own('index.html'), type: 'text/html; charset=utf-8' },
  { path: '/static/app.js', file: own('app.js'), type: 'text/javascript; charset=utf-8' },
  { path: '/static/app.css', file: own('app.css'), type: 'text/css; charset=utf-8' },
  { path: '/static/uPlot.iife.min.js', file: uplot('uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  { path: '/static/uPlot.min.css', file: uplot('uPlot.min.css'), type: 'text/css; charset=utf-8' },
];

/** Set by the bundler (esbuild `define`): each path's content, base64; undefined when running unbundled. */
declare const __PICAS_DASHBOARD_FILES__: Record<string, string> | undefined;

/** Each path's content, base64: what the bundler stamps into picas.mjs. */
export function embeddedStaticFiles(): Record<string, string> {
  return Object.fromEntries(STATIC_SOURCES.map((s) => [s.path, readFileSync(s.file()).toString('base64')]));
}

export function staticFiles(): Map<string, StaticFile> {
  const embedded = typeof __PICAS_DASHBOARD_FILES__ === 'object' ? __PICAS_DASHBOARD_FILES__ : undefined;
  const files = new Map<string, StaticFile>();
  for (const source of STATIC_SOURCES) {
    const stamped = embedded?.[source.path];
    files.set(source.path, { type: source.type, body: stamped !== undefined ? Buffer.from(stamped, 'base64') : readFileSync(source.file()) });
  }
  return files;
}
