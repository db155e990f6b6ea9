/**
 * The oldest Node.js picas-worker runs on (the repository's `engines`), and the one check of a version
 * against it, shared by the bundle's entry and the pilot script's shell check (which repeats the numbers).
 * No imports: the bundle runs this before loading anything else.
 */
export const MIN_NODE_VERSION = '20.19.0';

/** undefined when `actual` (e.g. `22.3.0` or `v22.3.0`) is at least `minimum`, else a one-line reason. */
export function nodeVersionProblem(actual: string, minimum: string = MIN_NODE_VERSION): string | undefined {
  const parse = (v: string) => v.replace(/^v/, '').split(/[.-]/).slice(0, 3).map((p) => Number.parseInt(p, 10));
  const have = parse(actual);
  const need = parse(minimum);
  if (have.some((n) => Number.isNaN(n))) return `cannot read the Node.js version '${actual}'; needs Node.js >= ${minimum}`;
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = need[i] ?? 0;
    if (a > b) return undefined;
    if (a < b) return `needs Node.js >= ${minimum}, but this is node ${actual.replace(/^v/, '')}`;
  }
  return undefined;
}
