/**
 * The values of one sweep parameter, as `picas push --param` and a sweep file give them:
 *   a,b,c             a comma list
 *   start:stop:step   an inclusive range, exact for decimals: the numbers are scaled to integers by the
 *                     most decimal places of start and step (as `seq` prints them), so 0.1:0.3:0.1 is
 *                     0.1, 0.2, 0.3 with no float drift
 *   @file             one value a line (blank lines skipped)
 * A range is never held as a list: `at(i)` computes its i-th value, so a parameter of a million points
 * takes no memory.
 */
import { readFileSync } from 'node:fs';

/** The values of one parameter, by position. */
export interface ValueList {
  readonly count: number;
  at(index: number): string;
  /** a range: its values never repeat, and its longest are at its ends */
  readonly range?: boolean;
}

/** A parameter's name and values, with where it was given (for messages). */
export interface SweepParam {
  name: string;
  values: ValueList;
  /** e.g. `--param q` or `sweep.yaml: params.q` */
  where: string;
}

export type ValuesResult = { values: ValueList } | { problem: string };

const DECIMAL = /^[-+]?\d+(\.\d+)?$/;
const RANGE = /^([^:]+):([^:]+):([^:]+)$/;

/**
 * A list of given strings. Duplicates are a problem (two tokens would get the same id), unless `repeats`
 * (a zipped list, where only the tuples must differ).
 */
export function listValues(values: readonly string[], where: string, repeats = false): ValuesResult {
  if (values.length === 0) return { problem: `${where}: no values` };
  const seen = new Set<string>();
  for (const value of values) {
    if (value.includes('\0')) return { problem: `${where}: a value holds a NUL byte, which no shell command can hold` };
    if (!repeats && seen.has(value)) return { problem: `${where}: the value '${value}' is given twice (each point must differ)` };
    seen.add(value);
  }
  const list = [...values];
  return { values: { count: list.length, at: (i) => list[i]! } };
}

/** `start:stop:step`, exact: every number is scaled to an integer by the decimal places of start and step. */
export function rangeValues(text: string, where: string): ValuesResult | undefined {
  const match = RANGE.exec(text);
  if (!match) return undefined;
  const [start, stop, step] = [match[1]!.trim(), match[2]!.trim(), match[3]!.trim()];
  for (const [label, n] of [['start', start], ['stop', stop], ['step', step]] as const) {
    if (!DECIMAL.test(n)) return { problem: `${where}: range '${text}': the ${label} '${n}' is not a decimal number (start:stop:step, like 0.1:0.3:0.1)` };
  }
  const places = Math.max(decimals(start), decimals(step));
  const [a, b, s] = [scaled(start, places), scaled(stop, places), scaled(step, places)];
  if (s === 0n) return { problem: `${where}: range '${text}': the step is 0` };
  // a stop beyond the start's side of the step's direction is an empty range: a mistake, not zero tokens
  if ((s > 0n && b < a) || (s < 0n && b > a)) return { problem: `${where}: range '${text}' is empty (the step goes away from the stop)` };
  const count = (b - a) / s + 1n;
  if (count > BigInt(Number.MAX_SAFE_INTEGER)) return { problem: `${where}: range '${text}' has too many points` };
  // exact in doubles while every value stays below 2^53, which is the usual case; BigInt beyond
  const safe = [a, b, s].every((n) => n <= MAX_SAFE && n >= -MAX_SAFE);
  const [na, ns] = [Number(a), Number(s)];
  const at = safe ? (i: number) => formatScaled(na + i * ns, places) : (i: number) => formatScaled(a + BigInt(i) * s, places);
  return { values: { count: Number(count), at, range: true } };
}

/** `@file`: one value a line, blank lines skipped; `dir` resolves a relative path. */
export function fileValues(path: string, where: string, resolvePath: (p: string) => string = (p) => p, repeats = false): ValuesResult {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(resolvePath(path)));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === undefined ? 'not valid UTF-8 text' : (err as Error).message;
    return { problem: `${where}: @${path}: ${why}` };
  }
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.trim() !== '');
  if (lines.length === 0) return { problem: `${where}: @${path}: the file has no values` };
  return listValues(lines, `${where} (@${path})`, repeats);
}

/** One `--param` value text: a range, `@file`, or a comma list. */
export function parseValues(text: string | readonly string[], where: string, resolvePath?: (p: string) => string, repeats = false): ValuesResult {
  if (typeof text !== 'string') return listValues(text, where, repeats);
  if (text.startsWith('@')) return fileValues(text.slice(1), where, resolvePath, repeats);
  const range = rangeValues(text, where);
  if (range) return range;
  if (text === '') return { problem: `${where}: no values` };
  const items = text.split(',');
  if (items.some((v) => v === '')) return { problem: `${where}: an empty value in '${text}' (a stray comma?)` };
  return listValues(items, where, repeats);
}

function decimals(n: string): number {
  const dot = n.indexOf('.');
  return dot === -1 ? 0 : n.length - dot - 1;
}

function scaled(n: string, places: number): bigint {
  const negative = n.startsWith('-');
  const digits = n.replace(/^[-+]/, '');
  const [whole, fraction = ''] = digits.split('.');
  const value = BigInt(whole! + fraction.padEnd(places, '0').slice(0, places));
  // a stop with more places than start and step is cut to their places (0:1.05:0.1 stops at 1.0)
  return negative ? -value : value;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function formatScaled(n: bigint | number, places: number): string {
  const negative = n < 0;
  const digits = (negative ? -n : n).toString().padStart(places + 1, '0');
  if (places === 0) return negative ? `-${digits}` : digits;
  const text = places === 0 ? digits : `${digits.slice(0, -places)}.${digits.slice(-places)}`;
  return negative ? `-${text}` : text;
}
