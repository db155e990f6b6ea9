/**
 * A sweep file: a YAML file with a `sweep:` section, pushed as `picas push sweep.yaml`.
 *
 *   sweep:
 *     name: sim-a             # optional; the id prefix
 *     template: sim --q {q} --d {d} --seed {seed}
 *     params:                 # cartesian product, in this order
 *       q: 0.1:0.3:0.1        # a range, a comma list, @file, or a YAML list
 *       d: [256, 1024]
 *     zip:                    # walked side by side
 *       seed: [1, 2, 3]
 *     rows: params.csv        # one point per row; relative to this file
 *     priority: 5             # token fields, as in token files
 *     resources: { cpus: 4 }
 *
 * Paths (`rows`, `@file`) are relative to the sweep file's directory.
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { yamlModule } from './lazy-modules.js';
import type { ParamDefinition, SweepDefinition } from './sweep.js';
import { parseTokenObjects, problemsError } from './token-files.js';

const SWEEP_KEYS = new Set(['template', 'name', 'params', 'zip', 'rows']);

/** True when `path` is a YAML file whose top level is a mapping with a `sweep` key. */
export function isSweepFile(path: string): boolean {
  const ext = extname(path).toLowerCase();
  if (ext !== '.yaml' && ext !== '.yml') return false;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false; // the token-file reader names the problem
  }
  // a cheap look before parsing: a top-level `sweep:` key
  return /^sweep\s*:/m.test(text);
}

/** Reads a sweep file into a definition; throws a UsageError listing every problem. */
export function readSweepFile(path: string): SweepDefinition {
  const { isMap, LineCounter, parseDocument } = yamlModule();
  const lineCounter = new LineCounter();
  const doc = parseDocument(readFileSync(path, 'utf8'), { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw problemsError(doc.errors.map((e) => `${path}:${e.linePos?.[0]?.line ?? 1}: invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`));
  }
  const root = doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown> | null;
  const section = root?.sweep;
  const line = (key: string) => {
    const node = (doc.get('sweep', true) as { get?: (k: string, keep: boolean) => { range?: number[] } | undefined } | undefined)?.get?.(key, true);
    return node?.range ? lineCounter.linePos(node.range[0]!).line : 1;
  };
  if (!isMap(doc.contents) || section === null || typeof section !== 'object' || Array.isArray(section)) {
    throw problemsError([`${path}: the 'sweep' section must be a mapping (template, params, zip, rows, and token fields)`]);
  }
  const problems: string[] = [];
  for (const key of Object.keys(root!)) if (key !== 'sweep') problems.push(`${path}:${line(key)}: '${key}' beside 'sweep': a sweep file holds only the sweep section`);
  const given = section as Record<string, unknown>;
  const where = (key: string) => `${path}:${line(key)}: sweep.${key}`;
  if (typeof given.template !== 'string') problems.push(`${where('template')}: the template must be a string (the command, with {name} placeholders)`);
  if (given.name !== undefined && typeof given.name !== 'string') problems.push(`${where('name')}: must be a string`);
  if (given.rows !== undefined && typeof given.rows !== 'string') problems.push(`${where('rows')}: must be the path of a CSV file`);
  const params = paramDefinitions(given.params, 'params', where, problems);
  const zip = paramDefinitions(given.zip, 'zip', where, problems);
  if ('id' in given || '_id' in given) problems.push(`${where('id' in given ? 'id' : '_id')}: a sweep's ids are derived from its name and parameters; give 'name'`);
  // every other key is a token field, checked as in a token file
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) if (!SWEEP_KEYS.has(key) && key !== 'id' && key !== '_id') fields[key] = value;
  const checked = parseTokenObjects(path, [{ value: { input: typeof given.template === 'string' ? given.template : 'x', ...fields }, line: line('template') }]);
  problems.push(...checked.problems);
  if (problems.length > 0) throw problemsError(problems, 0, 'invalid sweep file');
  const dir = dirname(resolve(path));
  return {
    template: given.template as string,
    name: given.name as string | undefined,
    params,
    zip,
    rows: given.rows as string | undefined,
    fields: checked.tokens[0]!.fields,
    resolvePath: (p) => resolve(dir, p),
  };
}

function paramDefinitions(value: unknown, key: string, where: (key: string) => string, problems: string[]): ParamDefinition[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${where(key)}: must be a mapping of parameter names to values`);
    return [];
  }
  const out: ParamDefinition[] = [];
  for (const [name, values] of Object.entries(value as Record<string, unknown>)) {
    const at = `${where(key)}.${name}`;
    const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
    if (scalar(values)) out.push({ name, values: String(values), where: at });
    else if (Array.isArray(values) && values.every(scalar)) out.push({ name, values: values.map(String), where: at });
    else problems.push(`${at}: values must be a string (a range, a comma list or @file) or a list`);
  }
  return out;
}
