/**
 * A parameter sweep: a command template and the points it is filled in at. The points are rows × product ×
 * zip: each row of a CSV table (its header names placeholders), times the cartesian product of every
 * `--param` (the first one outermost), times the `--zip` lists walked side by side. `buildSweep` checks
 * everything up front (the template against the parameter names, every list, range, file and row) and lists
 * every problem at once, so nothing is written when anything is wrong; `sweepPoints` then walks the points
 * lazily, one at a time, so a sweep of a million points takes the memory of one.
 *
 * Ids are deterministic: `<sweep name>_<16 hex digits of SHA-256 over the point's parameters>` (sorted by
 * name), so pushing the same sweep again adds nothing and extending a range adds only the new points. The
 * name is `--name`, else the template's first word and a hash of the template (`sim-1f2e3d4c`).
 */
import { readFileSync } from 'node:fs';
import { parseCsv } from './csv-rows.js';
import { problemsError } from './token-files.js';
import { checkedPrefix } from './token-ids.js';
import { MAX_INPUT_BYTES } from './token.js';
import { sha256Hex } from './token-text-stream.js';
import { fillTemplate, PARAM_NAME, parseTemplate, shellQuote, type Template } from './sweep-template.js';
import { parseValues, type SweepParam } from './sweep-values.js';

/** A sweep as given (flags or a sweep file), not yet checked. */
export interface SweepDefinition {
  template: string;
  /** `--name`, else derived from the template */
  name?: string;
  /** cartesian product, in the order given: value texts (`0.1:0.3:0.1`, `a,b`, `@file`) or lists */
  params: ParamDefinition[];
  /** walked side by side */
  zip: ParamDefinition[];
  /** a CSV file: one point per row */
  rows?: string;
  /** token fields every token gets (priority, resources, expected_seconds, depends_on), already checked */
  fields?: Record<string, unknown>;
  /** resolves relative file paths (a sweep file's own directory) */
  resolvePath?: (path: string) => string;
}

export interface ParamDefinition {
  name: string;
  values: string | readonly string[];
  /** for messages: `--param q`, `sweep.yaml: params.q` */
  where: string;
}

export interface Sweep {
  name: string;
  template: Template;
  /** every parameter name, in the order of a point's values: row columns, product, zip */
  names: string[];
  rows?: { file: string; names: string[]; rows: string[][] };
  product: SweepParam[];
  zip: SweepParam[];
  /** points in the sweep */
  count: number;
  fields: Record<string, unknown>;
}

/** Checks a definition and returns the sweep; throws a UsageError listing every problem. */
export function buildSweep(definition: SweepDefinition): Sweep {
  const problems: string[] = [];
  const parsedTemplate = parseTemplate(definition.template);
  if ('problem' in parsedTemplate) problems.push(parsedTemplate.problem);
  const name = definition.name ?? defaultSweepName(definition.template);
  try {
    checkedPrefix({ prefix: name });
  } catch {
    problems.push(`--name: '${name}' is not a usable sweep name (letters, digits and _ . : -, not starting with _)`);
  }
  const given = new Map<string, string>();
  const claim = (param: string, where: string) => {
    if (!PARAM_NAME.test(param)) problems.push(`${where}: '${param}' is not a parameter name (letters, digits and _, not starting with a digit)`);
    const upper = param.toUpperCase();
    const earlier = given.get(upper);
    if (earlier !== undefined) problems.push(`${where}: parameter '${param}' is also given by ${earlier}`);
    else given.set(upper, where);
  };

  let rows: Sweep['rows'];
  if (definition.rows !== undefined) {
    const file = definition.rows;
    const table = readRows(file, definition.resolvePath);
    if ('problem' in table) problems.push(table.problem);
    else {
      for (const column of table.header) claim(column, `--rows ${file} column '${column}'`);
      const seen = new Map<string, number>();
      table.rows.forEach((row, i) => {
        const key = JSON.stringify(row);
        const earlier = seen.get(key);
        if (earlier !== undefined) problems.push(`--rows ${file}:${table.lines[i]}: the same row as line ${earlier} (each point must differ)`);
        else seen.set(key, table.lines[i]!);
        if (row.some((v) => v.includes('\0'))) problems.push(`--rows ${file}:${table.lines[i]}: a value holds a NUL byte`);
      });
      rows = { file, names: table.header, rows: table.rows };
    }
  }
  const lists = (defs: readonly ParamDefinition[], repeats: boolean): SweepParam[] =>
    defs.flatMap((d) => {
      claim(d.name, d.where);
      const parsed = parseValues(d.values, d.where, definition.resolvePath, repeats);
      if ('problem' in parsed) {
        problems.push(parsed.problem);
        return [];
      }
      return [{ name: d.name, values: parsed.values, where: d.where }];
    });
  const product = lists(definition.params, false);
  const zip = lists(definition.zip, true);
  const zipCount = checkZip(zip, definition.zip.length, problems);

  const rowNames = rows?.names ?? [];
  const names = [...rowNames, ...product.map((p) => p.name), ...zip.map((z) => z.name)];
  const givenNames = [...rowNames, ...definition.params.map((d) => d.name), ...definition.zip.map((d) => d.name)];
  if ('template' in parsedTemplate) {
    const template = parsedTemplate.template;
    // an unreadable rows file names no columns: which placeholders it would have filled is unknown
    const rowsKnown = definition.rows === undefined || rows !== undefined;
    for (const placeholder of template.names) {
      if (rowsKnown && !givenNames.includes(placeholder)) problems.push(`placeholder {${placeholder}} has no value (no --param, --zip or --rows column '${placeholder}')`);
    }
    for (const d of [...definition.params, ...definition.zip]) {
      if (!template.names.includes(d.name)) problems.push(`${d.where}: the template has no placeholder {${d.name}}`);
    }
    for (const column of rowNames) {
      if (!template.names.includes(column)) problems.push(`--rows ${definition.rows} column '${column}': the template has no placeholder {${column}}`);
    }
  }
  if (definition.params.length + definition.zip.length === 0 && definition.rows === undefined) problems.push('a sweep needs --param, --zip or --rows');
  if (problems.length > 0) throw problemsError(problems, 0, 'invalid sweep');

  const template = (parsedTemplate as { template: Template }).template;
  const count = (rows?.rows.length ?? 1) * product.reduce((n, p) => n * p.values.count, 1) * (zip.length > 0 ? zipCount : 1);
  if (!Number.isSafeInteger(count)) throw problemsError([`the sweep has too many points (${count})`]);
  const sweep: Sweep = { name, template, names, rows, product, zip, count, fields: definition.fields ?? {} };
  const longest = longestInput(sweep);
  if (longest > MAX_INPUT_BYTES) throw problemsError([`the filled-in command can reach ${longest} bytes, more than a token may hold (${MAX_INPUT_BYTES}); pass long values in files`]);
  return sweep;
}

/** The common length of the zip lists; lists of different lengths are a problem naming both. */
function checkZip(zip: readonly SweepParam[], given: number, problems: string[]): number {
  const first = zip[0];
  if (!first) return 0;
  for (const other of zip.slice(1)) {
    if (other.values.count !== first.values.count) {
      const [shorter, longer] = other.values.count < first.values.count ? [other, first] : [first, other];
      problems.push(`${longer.where} has ${plural(longer.values.count, 'value')} but ${shorter.where} has ${shorter.values.count}: zipped lists must be as long as each other`);
    }
  }
  if (zip.length === given && problems.length === 0) {
    // a list may repeat a value (a=1,1 b=x,y); the tuples must still differ
    const seen = new Set<string>();
    for (let i = 0; i < first.values.count; i++) {
      const key = JSON.stringify(zip.map((z) => z.values.at(i)));
      if (seen.has(key)) {
        problems.push(`${zip.map((z) => z.where).join(', ')}: point ${i + 1} repeats an earlier one (each point must differ)`);
        break;
      }
      seen.add(key);
      if (seen.size > 1_000_000) break; // a list that long is a range, whose values never repeat
    }
  }
  return first.values.count;
}

function readRows(file: string, resolvePath: (p: string) => string = (p) => p) {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(resolvePath(file)));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: `--rows ${file}: ${code === 'ENOENT' ? 'no such file' : code === undefined ? 'not valid UTF-8 text' : (err as Error).message}` };
  }
  const parsed = parseCsv(`--rows ${file}`, text);
  return 'problem' in parsed ? parsed : parsed.table;
}

/** An upper bound of the filled-in command's length in bytes: every placeholder at its longest value. */
function longestInput(sweep: Sweep): number {
  const longestOf = new Map<string, number>();
  const note = (name: string, value: string, raw: boolean) => {
    const n = Buffer.byteLength(raw ? value : shellQuote(value));
    if (n > (longestOf.get(`${name}:${raw}`) ?? 0)) longestOf.set(`${name}:${raw}`, n);
  };
  const params = [...sweep.product, ...sweep.zip];
  for (const raw of [false, true]) {
    sweep.rows?.rows.forEach((row) => row.forEach((v, i) => note(sweep.names[i]!, v, raw)));
    for (const p of params) {
      // a range's longest values are at its ends; a list is scanned
      const ends = p.values.range ? [0, p.values.count - 1] : Array.from({ length: p.values.count }, (_, i) => i);
      for (const i of ends) note(p.name, p.values.at(i), raw);
    }
  }
  return sweep.template.parts.reduce((n, part) => n + Buffer.byteLength(part), 0) + sweep.template.slots.reduce((n, s) => n + (longestOf.get(`${s.name}:${s.raw}`) ?? 0), 0);
}

/**
 * The points, lazily: each one's values in the order of `sweep.names`. Like an odometer, a parameter's value
 * is looked up again only when its digit moves.
 */
export function* sweepPoints(sweep: Sweep): Generator<string[]> {
  const rowCount = sweep.rows?.rows.length ?? 1;
  const zipCount = sweep.zip[0]?.values.count ?? 1;
  const radices = [rowCount, ...sweep.product.map((p) => p.values.count), zipCount];
  const digits = radices.map(() => 0);
  let rowValues: readonly string[] = [];
  const productValues: string[] = sweep.product.map(() => '');
  // the first digit that moved: it and every digit after it (reset to 0) need their values again
  let moved = 0;
  for (let k = 0; k < sweep.count; k++) {
    if (moved === 0 && sweep.rows) rowValues = sweep.rows.rows[digits[0]!]!;
    for (let p = Math.max(0, moved - 1); p < sweep.product.length; p++) productValues[p] = sweep.product[p]!.values.at(digits[p + 1]!);
    const z = digits[radices.length - 1]!;
    const values = [...rowValues, ...productValues];
    for (const zipped of sweep.zip) values.push(zipped.values.at(z));
    yield values;
    for (moved = radices.length - 1; moved >= 0; moved--) {
      if (++digits[moved]! < radices[moved]!) break;
      digits[moved] = 0;
    }
  }
}

/** What one point becomes: its id, the filled-in command, and its parameters as the token's `params`. */
export interface SweepToken {
  id: string;
  input: string;
  params: Record<string, string>;
}

/** The token of one point (values in the order of `sweep.names`). */
export function sweepToken(sweep: Sweep, values: readonly string[], order = canonicalOrder(sweep.names)): SweepToken {
  const params: Record<string, string> = {};
  for (let i = 0; i < values.length; i++) params[sweep.names[i]!] = values[i]!;
  const input = fillTemplate(sweep.template, (name) => params[name]!);
  return { id: `${sweep.name}_${pointHash(sweep.names, values, order)}`, input, params };
}

/** Positions of `names` sorted by name: the order the id hash reads the values in. */
export function canonicalOrder(names: readonly string[]): number[] {
  return names.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
}

/** 16 hex digits of SHA-256 over `[[name, value], ...]` sorted by name, as JSON. */
export function pointHash(names: readonly string[], values: readonly string[], order = canonicalOrder(names)): string {
  const pairs = order.map((i) => [names[i], values[i]]);
  return sha256Hex(JSON.stringify(pairs)).slice(0, 16);
}

/** The default sweep name: the template's first word (its file name) and 8 hex digits of the template's hash. */
export function defaultSweepName(template: string): string {
  const first = template.trim().split(/\s+/)[0] ?? '';
  const word = (first.split('/').pop() ?? '').replace(/[^A-Za-z0-9_.-]/g, '').replace(/^[._-]+/, '').slice(0, 32) || 'sweep';
  return `${word}-${sha256Hex(template).slice(0, 8)}`;
}

/** `3 q × 2 d × 3 zipped (a, b) × 2 rows` */
export function describeShape(sweep: Sweep): string {
  const parts = [
    ...(sweep.rows ? [`${sweep.rows.rows.length} rows`] : []),
    ...sweep.product.map((p) => `${p.values.count} ${p.name}`),
    ...(sweep.zip.length > 0 ? [`${sweep.zip[0]!.values.count} zipped (${sweep.zip.map((z) => z.name).join(', ')})`] : []),
  ];
  return parts.join(' × ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
