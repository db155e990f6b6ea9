/**
 * Where a JSON text stops being valid JSON. Node's `JSON.parse` says *that* a text is invalid but not
 * where, so token files use this to name the line and column of the first syntax error.
 * It only validates (no values are built); call it after `JSON.parse` has failed.
 */

export interface JsonSyntaxError {
  /** offset (in UTF-16 code units) of the first character that makes the text invalid */
  offset: number;
  message: string;
}

export interface TextPosition {
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
}

export function positionAt(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class Stop extends Error {
  constructor(readonly offset: number, readonly reason: string) {
    super(reason);
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/** The first syntax error in `text`, or undefined when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const describe = (at: number) => (at >= text.length ? 'end of input' : `'${text[at]}'`);
  const fail = (reason: string, at = i): never => {
    throw new Stop(at, reason);
  };
  const skipSpace = () => {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) {
      if (text[i + k] !== word[k]) fail(`unexpected ${describe(i + k)} (expected ${word})`, i + k);
    }
    i += word.length;
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i]!;
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape in string', i);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          fail('bad escape in string', i);
        }
        continue;
      }
      if (c.charCodeAt(0) < 0x20) fail(c === '\n' ? 'unterminated string (line break inside a string)' : 'control character inside a string');
      i++;
    }
  };
  const number = () => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail(`unexpected ${describe(i)}`);
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > 5000) fail('nested too deeply');
    skipSpace();
    const c = text[i];
    if (c === undefined) fail('unexpected end of input (a value is missing)');
    if (c === '{') {
      i++;
      skipSpace();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        if (text[i] !== '"') fail(`unexpected ${describe(i)} (expected a "quoted" field name)`);
        string();
        skipSpace();
        if (text[i] !== ':') fail(`unexpected ${describe(i)} (expected ':')`);
        i++;
        value(depth + 1);
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`unexpected ${describe(i)} (expected ',' or '}')`);
      }
    }
    if (c === '[') {
      i++;
      skipSpace();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`unexpected ${describe(i)} (expected ',' or ']')`);
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    fail(`unexpected ${describe(i)}`);
  };
  try {
    value(0);
    skipSpace();
    if (i < text.length) fail(`unexpected ${describe(i)} after the end of the JSON value`);
    return undefined;
  } catch (err) {
    if (err instanceof Stop) return { offset: err.offset, message: err.reason };
    throw err;
  }
}

/**
 * Offsets where each element of a top-level JSON array starts (for line numbers of tokens in a
 * `.json` file). The text must be valid JSON whose root is an array.
 */
export function arrayElementOffsets(text: string): number[] {
  const offsets: number[] = [];
  let depth = 0;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (WHITESPACE.has(c)) continue;
    if (expectElement && depth === 1 && c !== ']') offsets.push(i);
    expectElement = false;
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1 && c === '[') expectElement = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectElement = true;
  }
  return offsets;
}
