/**
 * `PICAS_*` variables nobody reads: a misspelled `PICAS_PASWORD` in the environment or in `.env` would
 * otherwise be ignored without a word. Each unknown name is reported once, with the nearest known name.
 */

export interface UnknownEnvName {
  name: string;
  /** where it was set: `env` or the `.env` file's path */
  where: string;
  /** the nearest known name, when it is close enough to be a likely typo */
  suggestion?: string;
}

/**
 * Prefixes whose every name is known: the test runner's own settings (`PICAS_TEST_URL`, `PICAS_TEST_COUCHDB_15994`...),
 * and a sweep token's parameters (`PICAS_PARAM_Q`, docs/sweeps.md), set when a token that runs picas runs.
 */
const KNOWN_PREFIXES = ['PICAS_TEST_', 'PICAS_PARAM_'];

/** The `PICAS_*` names set in `env` and `.env` that are not in `known`, each once (the environment's first). */
export function unknownPicasNames(
  layers: { env?: Record<string, string | undefined>; dotenv?: Record<string, string>; dotenvName?: string },
  known: Iterable<string>,
): UnknownEnvName[] {
  const knownNames = new Set(known);
  const out: UnknownEnvName[] = [];
  const seen = new Set<string>();
  const sets: Array<[string, Record<string, string | undefined> | undefined]> = [
    ['env', layers.env],
    [layers.dotenvName ?? '.env', layers.dotenv],
  ];
  for (const [where, vars] of sets) {
    for (const name of Object.keys(vars ?? {}).sort()) {
      if (!name.startsWith('PICAS_') || knownNames.has(name) || seen.has(name) || KNOWN_PREFIXES.some((p) => name.startsWith(p))) continue;
      seen.add(name);
      const suggestion = nearestName(name, knownNames);
      out.push({ name, where, ...(suggestion ? { suggestion } : {}) });
    }
  }
  return out;
}

/** The warning line for an unknown name: `PICAS_PASWORD (env) is not a picas setting; did you mean PICAS_PASSWORD?`. */
export function describeUnknownName(unknown: UnknownEnvName): string {
  return `${unknown.name} (${unknown.where}) is not a picas setting and is ignored${unknown.suggestion ? `; did you mean ${unknown.suggestion}?` : ''}`;
}

/** The known name at the smallest edit distance, if that distance is at most a third of the name's length. */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  const suffix = name.length - 'PICAS_'.length;
  return bestDistance <= Math.max(2, Math.floor(suffix / 3)) ? best : undefined;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit (Damerau, restricted). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
