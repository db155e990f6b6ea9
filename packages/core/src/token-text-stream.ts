/**
 * `.txt` token files of any size, for `picas push`: read as a stream, twice, so memory stays flat in the
 * file size. The first pass checks every file (it exists, is UTF-8, has tokens), counts the tokens and notes
 * which content hashes may repeat (RepeatFilter), so that nothing is written unless every file is valid, as
 * with the other formats (token-files.ts); a line no pilot could run (a NUL byte, more than MAX_INPUT_BYTES) is
 * one of the problems. The second pass yields the token documents batch by batch, with
 * the same ids `readTokenFiles` gives them, either as documents or already encoded as a `_bulk_docs` body
 * with the file and lines each batch came from (what `picas push` sends: no document objects are made).
 * Lines are handled a chunk (64 KiB) at a time, not one await per line.
 */
import * as crypto from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from './errors.js';
import { MAX_LISTED_PROBLEMS, problemsError, type TokenDocOptions } from './token-files.js';
import { checkedPrefix } from './token-ids.js';
import { newToken, nowSeconds, unrunnableInput, type TokenDoc } from './token.js';
import type { EncodedTokenBatch, LineRange } from './ops/push-tokens.js';

export interface TextTokenSource {
  /** tokens in all files */
  tokens: number;
  perFile: Array<{ file: string; tokens: number }>;
  /** the token documents, `size` at a time, in file order */
  batches(size: number): AsyncGenerator<TokenDoc[]>;
  /** the same documents as `_bulk_docs` bodies, `size` at a time, with their ids and lines */
  encodedBatches(size: number): AsyncGenerator<EncodedTokenBatch>;
}

/** True when `picas push` can stream these files (all of them .txt). */
export function streamableTokenFiles(paths: readonly string[]): boolean {
  return paths.length > 0 && paths.every((p) => p.toLowerCase().endsWith('.txt'));
}

/**
 * The lines of a file (without their `\n` and a trailing `\r`) a chunk at a time, with the number of the
 * first; throws on bytes that are not UTF-8.
 */
async function* fileChunks(path: string): AsyncGenerator<{ lines: string[]; first: number }> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  let line = 0;
  const strip = (lines: string[]) => {
    for (let i = 0; i < lines.length; i++) if (lines[i]!.endsWith('\r')) lines[i] = lines[i]!.slice(0, -1);
    return lines;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
    let text: string;
    try {
      text = rest + decoder.decode(chunk as Buffer, { stream: true });
    } catch {
      throw new NotUtf8(line + 1 + (rest.match(/\n/g)?.length ?? 0) + badLineIn(chunk as Buffer));
    }
    const lines = text.split('\n');
    rest = lines.pop()!;
    if (lines.length === 0) continue;
    yield { lines: strip(lines), first: line + 1 };
    line += lines.length;
  }
  try {
    rest += decoder.decode();
  } catch {
    throw new NotUtf8(line + 1);
  }
  if (rest !== '') yield { lines: strip([rest]), first: line + 1 };
}

/** Which line of `chunk` (0 = its first) holds bytes that are not UTF-8. */
function badLineIn(chunk: Buffer): number {
  let start = 0;
  for (let index = 0; ; index++) {
    const nl = chunk.indexOf(0x0a, start);
    const end = nl === -1 ? chunk.length : nl;
    try {
      // the last piece may end inside a character that continues in the next chunk
      new TextDecoder('utf-8', { fatal: true }).decode(chunk.subarray(start, end), { stream: nl === -1 });
    } catch {
      return index;
    }
    if (nl === -1) return index;
    start = nl + 1;
  }
}

/**
 * Which content hashes may repeat in one file, in memory that does not grow with the file: the first pass
 * puts every hash through a Bloom filter (at most 8 MiB) and keeps only the hashes it may have seen
 * before: every real repeat, and a few false positives. The second pass counts just those exactly, so
 * the ids are the ones a full map of every hash gives (`_n` for the n-th repeat), false positives included.
 */
export class RepeatFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  /** hashes that may occur more than once */
  private readonly maybe = new Set<string>();
  private counts = new Map<string, number>();

  /** `size`: about how many hashes will be seen (e.g. an upper bound from the file size) */
  constructor(size: number) {
    let bits = 1 << 16;
    while (bits < (1 << 26) && bits < size * 16) bits *= 2;
    this.bits = new Uint32Array(bits / 32);
    this.mask = bits - 1;
  }

  /** First pass: notes `hash` (16 hex digits). */
  see(hash: string): void {
    const h1 = parseInt(hash.slice(0, 8), 16);
    const h2 = parseInt(hash.slice(8, 16), 16) | 1;
    let present = true;
    for (let i = 0; i < 5; i++) {
      const bit = ((h1 + Math.imul(i, h2)) >>> 0) & this.mask;
      const word = bit >>> 5;
      const flag = 1 << (bit & 31);
      if ((this.bits[word]! & flag) === 0) {
        present = false;
        this.bits[word]! |= flag;
      }
    }
    if (present) this.maybe.add(hash);
  }

  /** Second pass, in the same order: how often `hash` has been seen now, this time included. */
  next(hash: string): number {
    if (!this.maybe.has(hash)) return 1;
    const n = (this.counts.get(hash) ?? 0) + 1;
    this.counts.set(hash, n);
    return n;
  }

  /** Ready for another second pass. */
  rewind(): void {
    this.counts = new Map();
  }
}

/** The content hash of a plain text token (what `contentHash({ input: text, fields: {} })` gives), faster. */
export function textTokenHash(text: string): string {
  return sha256Hex(`{"input":${JSON.stringify(text)}}`).slice(0, 16);
}

/** SHA-256 of a string as hex, one-shot (`crypto.hash`) where Node has it. */
export const sha256Hex: (data: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => (crypto as unknown as { hash: (alg: string, data: string, enc: string) => string }).hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

class NotUtf8 extends Error {
  constructor(readonly line: number) {
    super('not UTF-8');
  }
}

const isToken = (text: string) => {
  const trimmed = text.trim();
  return trimmed !== '' && !trimmed.startsWith('#');
};

/**
 * Checks every file (first pass) and returns the source of its documents. Throws a UsageError listing
 * every problem, like `readTokenFiles`, before anything can be written.
 */
export async function openTextTokenFiles(paths: readonly string[], options: TokenDocOptions & { cwd?: string } = {}): Promise<TextTokenSource> {
  if (paths.length === 0) throw new UsageError('no token files given (picas push FILE...)');
  const prefix = checkedPrefix(options);
  const forceNew = !!options.forceNew;
  const problems: string[] = [];
  let unlisted = 0;
  const files: Array<{ name: string; absolute: string; tokens: number; repeats?: RepeatFilter }> = [];
  const seen = new Set<string>();
  for (const name of paths) {
    const absolute = resolve(options.cwd ?? process.cwd(), name);
    if (seen.has(absolute)) continue; // the same file twice adds nothing
    seen.add(absolute);
    let tokens = 0;
    let blank = true;
    let repeats: RepeatFilter | undefined;
    try {
      // a line takes at least 2 bytes (a character and its \n), which bounds the tokens in the file
      if (!forceNew) repeats = new RepeatFilter(Math.ceil(statSync(absolute).size / 2));
      for await (const { lines, first } of fileChunks(absolute)) {
        for (let i = 0; i < lines.length; i++) {
          const text = lines[i]!;
          if (blank && text.trim() !== '') blank = false;
          if (!isToken(text)) continue;
          const unrunnable = unrunnableInput(text);
          // only the listed problems are kept: memory stays flat however many lines are bad
          if (unrunnable && problems.length < MAX_LISTED_PROBLEMS) problems.push(`${name}:${first + i}: the input ${unrunnable}`);
          else if (unrunnable) unlisted++;
          tokens++;
          repeats?.see(textTokenHash(text));
        }
      }
    } catch (err) {
      if (err instanceof NotUtf8) problems.push(`${name}:${err.line}: not valid UTF-8 text (save the file as UTF-8)`);
      else {
        const code = (err as NodeJS.ErrnoException).code;
        problems.push(`${name}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a token file' : (err as Error).message}`);
      }
      continue;
    }
    if (blank) problems.push(`${name}: the file is empty`);
    else if (tokens === 0) problems.push(`${name}: no tokens in the file (only comments and blank lines)`);
    files.push({ name, absolute, tokens, repeats });
  }
  if (problems.length > 0) throw problemsError(problems, unlisted);
  const now = options.now ?? nowSeconds();

  /** The tokens of every file, a chunk at a time: their ids, texts and lines. */
  async function* tokenChunks(): AsyncGenerator<{ file: string; ids: string[]; texts: string[]; lines: number[] }> {
    for (const file of files) {
      // repeats are numbered per file, as in token-files.ts
      file.repeats?.rewind();
      for await (const { lines, first } of fileChunks(file.absolute)) {
        const ids: string[] = [];
        const texts: string[] = [];
        const numbers: number[] = [];
        for (let i = 0; i < lines.length; i++) {
          const text = lines[i]!;
          if (!isToken(text)) continue;
          let id: string;
          if (forceNew) id = `${prefix}_${crypto.randomBytes(8).toString('hex')}`;
          else {
            const hash = textTokenHash(text);
            const n = file.repeats!.next(hash);
            id = n === 1 ? `${prefix}_${hash}` : `${prefix}_${hash}_${n}`;
          }
          ids.push(id);
          texts.push(text);
          numbers.push(first + i);
        }
        if (ids.length > 0) yield { file: file.name, ids, texts, lines: numbers };
      }
    }
  }

  /** `size` tokens at a time, across chunks and files, with the line ranges they came from. */
  async function* slices<T>(size: number, make: (ids: string[], texts: string[], ranges: LineRange[]) => T): AsyncGenerator<T> {
    let ids: string[] = [];
    let texts: string[] = [];
    let ranges: LineRange[] = [];
    const flush = () => {
      const out = make(ids, texts, ranges);
      ids = [];
      texts = [];
      ranges = [];
      return out;
    };
    for await (const chunk of tokenChunks()) {
      let at = 0;
      while (at < chunk.ids.length) {
        const take = Math.min(size - ids.length, chunk.ids.length - at);
        for (let i = at; i < at + take; i++) {
          ids.push(chunk.ids[i]!);
          texts.push(chunk.texts[i]!);
        }
        const last = ranges[ranges.length - 1];
        if (last && last.file === chunk.file) last.to = chunk.lines[at + take - 1]!;
        else ranges.push({ file: chunk.file, from: chunk.lines[at]!, to: chunk.lines[at + take - 1]! });
        at += take;
        if (ids.length >= size) yield flush();
      }
    }
    if (ids.length > 0) yield flush();
  }

  // the document newToken(id, text, { created: now }, now) makes, key for key, as JSON
  const docTail = `,"exit_code":"","output":{},"error":[],"created":${JSON.stringify(now)}}`;
  return {
    tokens: files.reduce((a, f) => a + f.tokens, 0),
    perFile: files.map((f) => ({ file: f.name, tokens: f.tokens })),
    batches(size: number) {
      return slices(Math.max(1, size), (ids, texts) => ids.map((id, i) => newToken(id, texts[i], { created: now }, now)));
    },
    encodedBatches(size: number) {
      return slices(Math.max(1, size), (ids, texts, ranges): EncodedTokenBatch => ({
        ids,
        ranges,
        doc: (i) => `{"_id":${JSON.stringify(ids[i])},"type":"token","lock":0,"done":0,"hostname":"","scrub_count":0,"input":${JSON.stringify(texts[i])}${docTail}`,
      }));
    },
  };
}
