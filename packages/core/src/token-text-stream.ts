/**
 * `.txt` token files of any size, for `picas push`: read as a stream, twice, so memory stays flat in the
 * file size. The first pass checks every file (it exists, is UTF-8, has tokens) and counts the tokens, so
 * that nothing is written unless every file is valid, as with the other formats (token-files.ts). The second
 * pass yields the token documents batch by batch, with the same ids `readTokenFiles` gives them.
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from './errors.js';
import { checkedPrefix, tokenId, type TokenDocOptions } from './token-files.js';
import { newToken, nowSeconds, type TokenDoc } from './token.js';

export interface TextTokenSource {
  /** tokens in all files */
  tokens: number;
  perFile: Array<{ file: string; tokens: number }>;
  /** the token documents, `size` at a time, in file order */
  batches(size: number): AsyncGenerator<TokenDoc[]>;
}

/** True when `picas push` can stream these files (all of them .txt). */
export function streamableTokenFiles(paths: readonly string[]): boolean {
  return paths.length > 0 && paths.every((p) => p.toLowerCase().endsWith('.txt'));
}

/** Each line of a file (without its `\n` and a trailing `\r`), with its number; throws on bytes that are not UTF-8. */
async function* fileLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  let line = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    let text: string;
    try {
      text = rest + decoder.decode(chunk as Buffer, { stream: true });
    } catch {
      throw new NotUtf8(line + 1 + (rest.match(/\n/g)?.length ?? 0) + badLineIn(chunk as Buffer));
    }
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const raw = text.slice(start, nl);
      yield { text: raw.endsWith('\r') ? raw.slice(0, -1) : raw, line: ++line };
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  try {
    rest += decoder.decode();
  } catch {
    throw new NotUtf8(line + 1);
  }
  if (rest !== '') yield { text: rest.endsWith('\r') ? rest.slice(0, -1) : rest, line: ++line };
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
 * How often each 64-bit content hash (16 hex digits) was seen in one file, in about 40 bytes a token rather
 * than the ~150 a map of strings takes: a map from the hash's top 52 bits (a number) to its low 12 bits plus
 * 4096 × its count; the rare hashes that share their top 52 bits with an earlier, different one are counted
 * exactly in a map of strings.
 */
export class RepeatCounter {
  private readonly byTop = new Map<number, number>();
  private readonly exact = new Map<string, number>();

  /** Counts `hash` once more; returns how often it has been seen now. */
  next(hash: string): number {
    const top = parseInt(hash.slice(0, 13), 16);
    const low = parseInt(hash.slice(13, 16), 16);
    const seen = this.byTop.get(top);
    if (seen === undefined) {
      this.byTop.set(top, low + 4096);
      return 1;
    }
    if (seen % 4096 === low) {
      this.byTop.set(top, seen + 4096);
      return Math.floor(seen / 4096) + 1;
    }
    const n = (this.exact.get(hash) ?? 0) + 1;
    this.exact.set(hash, n);
    return n;
  }
}

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
  const problems: string[] = [];
  const files: Array<{ name: string; absolute: string; tokens: number }> = [];
  const seen = new Set<string>();
  for (const name of paths) {
    const absolute = resolve(options.cwd ?? process.cwd(), name);
    if (seen.has(absolute)) continue; // the same file twice adds nothing
    seen.add(absolute);
    let tokens = 0;
    let blank = true;
    try {
      for await (const { text } of fileLines(absolute)) {
        if (blank && text.trim() !== '') blank = false;
        if (isToken(text)) tokens++;
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
    files.push({ name, absolute, tokens });
  }
  if (problems.length > 0) {
    const summary = problems.length === 1 ? problems[0]! : `invalid token files (${problems.length} problems); nothing was pushed`;
    throw new UsageError(summary, { problems: problems.slice(0, 50) });
  }
  const now = options.now ?? nowSeconds();
  return {
    tokens: files.reduce((a, f) => a + f.tokens, 0),
    perFile: files.map((f) => ({ file: f.name, tokens: f.tokens })),
    async *batches(size: number) {
      let batch: TokenDoc[] = [];
      for (const file of files) {
        // repeats are numbered per file, as in token-files.ts
        const repeats = new RepeatCounter();
        for await (const { text } of fileLines(file.absolute)) {
          if (!isToken(text)) continue;
          const id = tokenId({ input: text, fields: {}, file: file.name }, prefix, options.forceNew, (_key, hash) => repeats.next(hash));
          batch.push(newToken(id, text, { created: now }, now));
          if (batch.length >= size) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield batch;
    },
  };
}
