/**
 * Token ids from their content: prefix + a hash of the input and fields, so pushing a file again adds
 * nothing (token-text-stream.ts has a faster path for plain text lines that gives the same hash); an
 * explicit `_id` wins, `forceNew` gives random ids instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { UsageError } from './errors.js';

export const DEFAULT_TOKEN_PREFIX = 'token';
const PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/** What a token id is made of (a TokenSpec of token-files.ts). */
export interface TokenIdParts {
  /** an explicit `_id` */
  id?: string;
  input: unknown;
  fields: Record<string, unknown>;
  /** the file it came from: repeats count per file */
  file: string;
}

/** JSON with sorted keys, so equal content always hashes the same. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value as object)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** 16 hex digits of SHA-256 over the input and the fields. */
export function contentHash(spec: { input: unknown; fields: Record<string, unknown> }): string {
  return createHash('sha256').update(canonicalJson({ ...spec.fields, input: spec.input })).digest('hex').slice(0, 16);
}

/** The `--prefix`, checked. */
export function checkedPrefix(options: { prefix?: string }): string {
  const prefix = options.prefix ?? DEFAULT_TOKEN_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new UsageError(`--prefix: '${prefix}' is not a usable id prefix (letters, digits and _ . : -, not starting with _)`);
  }
  return prefix;
}

/**
 * A token's id: its explicit `_id`, a random one (`forceNew`), or prefix + content hash (+ `_n` for the n-th
 * repeat in its file). `occurrence(key)` counts how often a key (file and hash) has been seen, this time included.
 */
export function tokenId(spec: TokenIdParts, prefix: string, forceNew: boolean | undefined, occurrence: (key: string, hash: string) => number): string {
  if (spec.id !== undefined) return spec.id;
  if (forceNew) return `${prefix}_${randomBytes(8).toString('hex')}`;
  const hash = contentHash(spec);
  const n = occurrence(`${spec.file}\0${hash}`, hash);
  return n === 1 ? `${prefix}_${hash}` : `${prefix}_${hash}_${n}`;
}
