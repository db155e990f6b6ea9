/**
 * Token files, as `picas push` reads them:
 *   .txt          one token per non-empty line; the line is the `input`; lines starting with `#` are skipped
 *   .json         an array of token objects
 *   .jsonl        one token object per non-empty line
 *   .yaml / .yml  a list of token objects
 * A token object needs `input` and may carry any other fields (e.g. `priority`, `expected_seconds`, and
 * `id` (or `_id`) to choose the id, and `depends_on`: ids this token waits for, see docs/dag.md). Every file is validated before anything is written, and every problem is
 * reported at once, naming the file, the line and the field; an input no pilot can run (a NUL byte, more
 * than MAX_INPUT_BYTES) is one of them.
 *
 * Ids are deterministic: `<prefix>_<hash of the token's content>`, so pushing the same file twice
 * creates nothing new. The n-th identical token in one file gets `_<n>` appended, so repeated lines
 * stay separate tokens. An explicit `_id` wins; `forceNew` gives random ids instead.
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { yamlModule } from './lazy-modules.js';
import { arrayElementOffsets, findJsonSyntaxError, positionAt } from './json-syntax.js';
import { checkResources, type Resources } from './resources.js';
import { newToken, nowSeconds, unrunnableInput, type TokenDoc } from './token.js';
import { checkedPrefix, tokenId } from './token-ids.js';

export const TOKEN_FILE_EXTENSIONS = ['.txt', '.json', '.jsonl', '.yaml', '.yml'] as const;


/** A token as read from a file, before it gets its id. */
export interface TokenSpec {
  input: unknown;
  /** an explicit `_id` from the file */
  id?: string;
  /** every other field */
  fields: Record<string, unknown>;
  /** where it came from, for messages */
  file: string;
  line: number;
}

export interface ParsedTokenFile {
  tokens: TokenSpec[];
  problems: string[];
}

/** Fields picas itself manages: a token file may only give them their value in a fresh token. */
const STATE_FIELDS: Record<string, unknown> = { type: 'token', lock: 0, done: 0, hostname: '', scrub_count: 0, exit_code: '' };

/** At most this many problems are listed; the rest are counted. */
export const MAX_LISTED_PROBLEMS = 50;

/** Parses one token file's bytes. `name` is used for the format (by extension) and in messages. */
export function parseTokenFile(name: string, bytes: Uint8Array): ParsedTokenFile {
  const ext = extname(name).toLowerCase();
  if (!(TOKEN_FILE_EXTENSIONS as readonly string[]).includes(ext)) {
    return { tokens: [], problems: [`${name}: unknown token file type '${ext || '(none)'}' (use ${TOKEN_FILE_EXTENSIONS.join(', ')})`] };
  }
  const text = decodeUtf8(name, bytes);
  if (typeof text !== 'string') return { tokens: [], problems: [text.problem] };
  if (text.trim() === '') return { tokens: [], problems: [`${name}: the file is empty`] };
  switch (ext) {
    case '.txt':
      return parseText(name, text);
    case '.json':
      return parseJson(name, text);
    case '.jsonl':
      return parseJsonLines(name, text);
    default:
      return parseYaml(name, text);
  }
}

function decodeUtf8(name: string, bytes: Uint8Array): string | { problem: string } {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // find the first line that does not decode, to name it
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0x0a) {
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, i));
        } catch {
          break;
        }
        line++;
        start = i + 1;
      }
    }
    return { problem: `${name}:${line}: not valid UTF-8 text (save the file as UTF-8)` };
  }
}

function parseText(name: string, text: string): ParsedTokenFile {
  const tokens: TokenSpec[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const unrunnable = unrunnableInput(line);
    if (unrunnable) problems.push(`${name}:${index + 1}: the input ${unrunnable}`);
    else tokens.push({ input: line, fields: {}, file: name, line: index + 1 });
  });
  if (tokens.length === 0 && problems.length === 0) return { tokens, problems: [`${name}: no tokens in the file (only comments and blank lines)`] };
  return { tokens, problems };
}

function parseJson(name: string, text: string): ParsedTokenFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const where = findJsonSyntaxError(text);
    if (!where) return { tokens: [], problems: [`${name}: invalid JSON: ${(err as Error).message}`] };
    const pos = positionAt(text, where.offset);
    return { tokens: [], problems: [`${name}:${pos.line}:${pos.column}: invalid JSON: ${where.message}`] };
  }
  if (!Array.isArray(parsed)) {
    const start = positionAt(text, text.length - text.trimStart().length).line;
    return { tokens: [], problems: [`${name}:${start}: expected a JSON array of token objects, like [{"input": "..."}]`] };
  }
  if (parsed.length === 0) return { tokens: [], problems: [`${name}: no tokens in the file (the array is empty)`] };
  const lines = arrayElementOffsets(text).map((offset) => positionAt(text, offset).line);
  return parseTokenObjects(name, parsed.map((value, i) => ({ value, line: lines[i] ?? 1 })));
}

function parseJsonLines(name: string, text: string): ParsedTokenFile {
  const items: Array<{ value: unknown; line: number }> = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    if (raw.trim() === '') return;
    try {
      items.push({ value: JSON.parse(raw), line: index + 1 });
    } catch (err) {
      const where = findJsonSyntaxError(raw);
      const column = where ? `:${where.offset + 1}` : '';
      problems.push(`${name}:${index + 1}${column}: invalid JSON: ${where?.message ?? (err as Error).message}`);
    }
  });
  const result = parseTokenObjects(name, items);
  return { tokens: result.tokens, problems: [...problems, ...result.problems].sort(byLine) };
}

function parseYaml(name: string, text: string): ParsedTokenFile {
  const { isSeq, LineCounter, parseDocument } = yamlModule();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      tokens: [],
      problems: doc.errors.map((e) => {
        const line = e.linePos?.[0]?.line ?? 1;
        const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return `${name}:${line}: invalid YAML: ${message}`;
      }),
    };
  }
  const root = doc.contents;
  if (root === null || root === undefined) return { tokens: [], problems: [`${name}: no tokens in the file (only comments)`] };
  if (!isSeq(root)) {
    const line = root.range ? lineCounter.linePos(root.range[0]).line : 1;
    return { tokens: [], problems: [`${name}:${line}: expected a YAML list of token objects, like "- input: ..."`] };
  }
  if (root.items.length === 0) return { tokens: [], problems: [`${name}: no tokens in the file (the list is empty)`] };
  const values = doc.toJS({ maxAliasCount: 1000 }) as unknown[];
  return parseTokenObjects(
    name,
    root.items.map((item, i) => {
      const range = (item as { range?: [number, number, number] } | null)?.range;
      return { value: values[i], line: range ? lineCounter.linePos(range[0]).line : 1 };
    }),
  );
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? 'a string' : typeof value === 'number' ? 'a number' : typeof value;
}

/**
 * Checks token objects (as a .json/.jsonl/.yaml file holds them, or as the typed library's `push` takes
 * them) and turns the valid ones into specs; every problem is named `<name>:<line>`.
 */
export function parseTokenObjects(name: string, items: ReadonlyArray<{ value: unknown; line: number }>): ParsedTokenFile {
  const tokens: TokenSpec[] = [];
  const problems: string[] = [];
  for (const { value, line } of items) {
    const where = `${name}:${line}`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${where}: expected a token object with an 'input' field, got ${describeType(value)}`);
      continue;
    }
    const record = value as Record<string, unknown>;
    const before = problems.length;
    if (record.input === undefined || record.input === null) problems.push(`${where}: the token has no 'input' field`);
    else {
      const unrunnable = unrunnableInput(record.input);
      if (unrunnable) problems.push(`${where}: field 'input' ${unrunnable}`);
    }
    const fields: Record<string, unknown> = {};
    let id: string | undefined;
    for (const [key, field] of Object.entries(record)) {
      if (key === 'input') continue;
      if (key === '_id' || key === 'id') {
        if (typeof field !== 'string' || field.trim() === '') problems.push(`${where}: field '${key}' must be a non-empty string`);
        else if (field.startsWith('_')) problems.push(`${where}: field '${key}' '${field}' starts with '_', which CouchDB reserves`);
        else if (id !== undefined && id !== field) problems.push(`${where}: fields 'id' and '_id' differ ('${id}', '${field}'); give one`);
        else id = field;
        continue;
      }
      if (key === 'depends_on') {
        const deps = typeof field === 'string' ? [field] : field;
        if (!Array.isArray(deps) || deps.some((d) => typeof d !== 'string' || d.trim() === '')) {
          problems.push(`${where}: field 'depends_on' must be a list of token ids (non-empty strings)`);
        } else if (deps.length > 0) {
          fields[key] = [...new Set(deps as string[])];
        }
        continue;
      }
      if (key === 'has_dependents' || key === 'blocked_by') {
        problems.push(`${where}: field '${key}' is managed by picas (docs/dag.md); leave it out`);
        continue;
      }
      if (key.startsWith('_')) {
        problems.push(`${where}: field '${key}': names starting with '_' are reserved by CouchDB (only '_id' is allowed)`);
        continue;
      }
      if (key in STATE_FIELDS && field !== STATE_FIELDS[key]) {
        problems.push(`${where}: field '${key}' is managed by picas; a new token must have ${JSON.stringify(STATE_FIELDS[key])} (or leave it out)`);
        continue;
      }
      if (key === 'priority' && (typeof field !== 'number' || !Number.isFinite(field))) {
        problems.push(`${where}: field 'priority' must be a number (higher is claimed first)`);
        continue;
      }
      if (key === 'expected_seconds' && (typeof field !== 'number' || !(field > 0))) {
        problems.push(`${where}: field 'expected_seconds' must be a positive number of seconds`);
        continue;
      }
      if (key === 'resources') {
        const checked = checkResources(field);
        for (const problem of checked.problems) problems.push(`${where}: field ${problem}`);
        if (checked.resources) fields[key] = checked.resources;
        continue;
      }
      fields[key] = field;
    }
    if (problems.length === before) tokens.push({ input: record.input, id, fields, file: name, line });
  }
  return { tokens, problems };
}

function byLine(a: string, b: string): number {
  const line = (s: string) => Number(/^[^:]*:(\d+)/.exec(s)?.[1] ?? 0);
  return line(a) - line(b);
}

export interface TokenDocOptions {
  /** id prefix (default `token`) */
  prefix?: string;
  /** random ids instead of content hashes (explicit `_id`s are still kept) */
  forceNew?: boolean;
  /** `created` timestamp, epoch seconds */
  now?: number;
  /** `picas push --after`: every token also depends on these ids */
  after?: readonly string[];
  /** `picas push --cpus/--gpus/--mem` (checked): what every token without `resources` of its own needs */
  resources?: Resources;
}

/**
 * Turns parsed specs into token documents with their ids. Throws a UsageError listing every problem
 * (a bad prefix, two tokens with the same explicit `_id`).
 */
export function tokenDocs(specs: readonly TokenSpec[], options: TokenDocOptions = {}): TokenDoc[] {
  return new TokenDocBuilder(options).add(specs);
}

/**
 * Makes token documents from specs that come in parts (a streamed push): the ids of repeated tokens
 * (`_2`, `_3`) and the duplicate `_id` check span every part, as if all had come at once.
 */
export class TokenDocBuilder {
  private readonly prefix: string;
  private readonly seen = new Map<string, string>();
  private readonly occurrences = new Map<string, number>();

  constructor(private readonly options: TokenDocOptions = {}) {
    this.prefix = checkedPrefix(options);
  }

  /** The documents of these specs; throws a UsageError listing every problem (none of them is returned then). */
  add(specs: readonly TokenSpec[]): TokenDoc[] {
    const { options, seen, occurrences } = this;
    const now = options.now ?? nowSeconds();
    const problems: string[] = [];
    const docs: TokenDoc[] = [];
    const after = options.after ?? [];
    for (const given of specs) {
      let spec = given;
      if (after.length > 0) {
        const own = Array.isArray(given.fields.depends_on) ? (given.fields.depends_on as string[]) : [];
        spec = { ...given, fields: { ...given.fields, depends_on: [...new Set([...own, ...after])] } };
      }
      if (options.resources && spec.fields.resources === undefined) spec = { ...spec, fields: { ...spec.fields, resources: options.resources } };
      const id = tokenId(spec, this.prefix, options.forceNew, (key) => {
        const n = (occurrences.get(key) ?? 0) + 1;
        occurrences.set(key, n);
        return n;
      });
      const where = `${spec.file}:${spec.line}`;
      const earlier = seen.get(id);
      if (earlier !== undefined && spec.id !== undefined) {
        problems.push(`${where}: _id '${id}' is already used at ${earlier}`);
        continue;
      }
      if (earlier === undefined) seen.set(id, where);
      docs.push(newToken(id, spec.input, { created: now, ...spec.fields }, now));
    }
    if (problems.length > 0) throw problemsError(problems);
    return docs;
  }
}

export interface ReadTokenFilesResult {
  docs: TokenDoc[];
  /** token count per file, in the order given */
  perFile: Array<{ file: string; tokens: number }>;
}

/**
 * Reads and validates every file, then builds the token documents. Nothing is returned unless every
 * file is valid: the UsageError lists all problems in all files.
 */
export function readTokenFiles(paths: readonly string[], options: TokenDocOptions & { cwd?: string } = {}): ReadTokenFilesResult {
  if (paths.length === 0) throw new UsageError('no token files given (picas push FILE...)');
  const specs: TokenSpec[] = [];
  const problems: string[] = [];
  const perFile: ReadTokenFilesResult['perFile'] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    const absolute = resolve(options.cwd ?? process.cwd(), path);
    if (seen.has(absolute)) continue; // the same file twice adds nothing
    seen.add(absolute);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(absolute);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a token file' : (err as Error).message}`);
      continue;
    }
    const parsed = parseTokenFile(path, bytes);
    problems.push(...parsed.problems);
    specs.push(...parsed.tokens);
    perFile.push({ file: path, tokens: parsed.tokens.length });
  }
  if (problems.length > 0) throw problemsError(problems);
  return { docs: tokenDocs(specs, options), perFile };
}

/**
 * The error that lists the problems found in token files (at most MAX_LISTED_PROBLEMS of them, the rest
 * counted). `unlisted`: more problems that were counted but not kept (a streamed file keeps only the first);
 * `subject` heads the summary of several.
 */
export function problemsError(problems: readonly string[], unlisted = 0, subject = 'invalid token files'): UsageError {
  const total = problems.length + unlisted;
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
  if (total > listed.length) listed.push(`... and ${total - listed.length} more problems`);
  const summary = total === 1 ? problems[0]! : `${subject} (${total} problems); nothing was pushed`;
  return new UsageError(summary, { problems: listed });
}
