/**
 * What a token needs to run: `resources: {cpus, gpus, mem}` (docs/resources.md). A token without it needs
 * one core, as always. Memory is in bytes (a file may say `16G`: binary suffixes K, M, G, T).
 *
 * A token's shape is the triple of its needs. Tokens of the default shape (1 cpu, no GPU, no memory asked)
 * are claimed from `todo_by_priority` as ever; tokens of any other shape from `todo_by_shape`, keyed by
 * shape first (design-docs.ts): the views decide the shape with SHAPE_JS, the pilot with `tokenNeeds`, and
 * a unit test checks they agree.
 */
import type { TokenDoc } from './token.js';

export interface Resources {
  cpus: number;
  gpus: number;
  /** bytes; 0: not asked */
  mem: number;
}

export const DEFAULT_NEEDS: Readonly<Resources> = Object.freeze({ cpus: 1, gpus: 0, mem: 0 });

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * A size in bytes: a whole number of bytes, or a number with a binary suffix (`512M`, `16G`, `1.5T`; `KB`,
 * `KiB` and lower case too). undefined when it is not one.
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  if (!m) return undefined;
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!);
  return Number.isFinite(bytes) ? bytes : undefined;
}

/** A size for people: `16G`, `512M`, `1536K`, or bytes (the largest unit that divides it, else one decimal). */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const size = SIZE_UNITS[unit]!;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const size = SIZE_UNITS[unit]!;
    if (bytes >= size) return `${(bytes / size).toFixed(1)}${unit}`;
  }
  return `${bytes}B`;
}

/** Checks a token file's `resources` (or the push flags): the stored object, or every problem, naming the field. */
export function checkResources(value: unknown): { resources?: Resources; problems: string[] } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problems: [`resources: ${JSON.stringify(value)} must be an object like {cpus: 4, gpus: 1, mem: 16G}`] };
  }
  const problems: string[] = [];
  const given = value as Record<string, unknown>;
  for (const key of Object.keys(given)) if (!(key in DEFAULT_NEEDS)) problems.push(`resources.${key}: unknown (use cpus, gpus, mem)`);
  const whole = (key: 'cpus' | 'gpus', min: number): number => {
    const v = given[key];
    if (v === undefined) return DEFAULT_NEEDS[key];
    const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min) problems.push(`resources.${key}: ${JSON.stringify(v)} must be a whole number of at least ${min}`);
    return n as number;
  };
  const cpus = whole('cpus', 1);
  const gpus = whole('gpus', 0);
  let mem = 0;
  if (given.mem !== undefined) {
    const bytes = parseSize(given.mem);
    if (bytes === undefined) problems.push(`resources.mem: ${JSON.stringify(given.mem)} must be bytes or a size like 512M, 16G (K, M, G, T)`);
    else mem = bytes;
  }
  return problems.length ? { problems } : { resources: { cpus, gpus, mem }, problems };
}

/** What a token needs; a missing or malformed `resources` (a token pushed by other tools) counts as one core. */
export function tokenNeeds(doc: { resources?: unknown } | TokenDoc): Resources {
  const r = (doc as { resources?: unknown }).resources;
  if (r === null || typeof r !== 'object') return DEFAULT_NEEDS;
  const { cpus, gpus, mem } = r as Record<string, unknown>;
  const count = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fallback);
  return { cpus: Math.max(1, count(cpus, 1)), gpus: count(gpus, 0), mem: count(mem, 0) };
}

/** Whether needs are the default shape: claimed from `todo_by_priority`. */
export function isDefaultShape(needs: Resources): boolean {
  return needs.cpus === 1 && needs.gpus === 0 && needs.mem === 0;
}

/** A shape for people: `1 cpu`, `8 cpu + 1 gpu`, `2 cpu + 16G mem`. */
export function shapeLabel(needs: Resources): string {
  const parts = [`${needs.cpus} cpu`];
  if (needs.gpus > 0) parts.push(`${needs.gpus} gpu`);
  if (needs.mem > 0) parts.push(`${formatSize(needs.mem)} mem`);
  return parts.join(' + ');
}

/** The key of a shape in `todo_by_shape`, and back. */
export function shapeKey(needs: Resources): [number, number, number] {
  return [needs.cpus, needs.gpus, needs.mem];
}

export function shapeFromKey(key: unknown): Resources | undefined {
  if (!Array.isArray(key) || key.length < 3 || !key.slice(0, 3).every((n) => typeof n === 'number')) return undefined;
  return { cpus: key[0] as number, gpus: key[1] as number, mem: key[2] as number };
}

/** Whether `needs` fits into `room` (each of cpus, gpus, mem). */
export function fitsInto(needs: Resources, room: Resources): boolean {
  return needs.cpus <= room.cpus && needs.gpus <= room.gpus && needs.mem <= room.mem;
}

/**
 * A token's shape as JavaScript run inside a view, mirroring `tokenNeeds`: `[cpus, gpus, mem]`, or null
 * for the default shape.
 */
export const SHAPE_JS = `function tokenShape(doc) {
    var r = doc.resources;
    if (!r || typeof r != "object") return null;
    function count(v, d) { return (typeof v == "number" && v >= 0 && Math.floor(v) == v) ? v : d; }
    var s = [Math.max(1, count(r.cpus, 1)), count(r.gpus, 0), count(r.mem, 0)];
    return (s[0] == 1 && s[1] == 0 && s[2] == 0) ? null : s;
  }`;
