/** The library's token types: what `push` takes, and what a pilot's work function is given. */

/** What a token needs of its pilot: cores, GPUs, and memory (bytes, or a size like `16G`). */
export interface ResourcesInput {
  cpus?: number;
  gpus?: number;
  mem?: number | string;
}

/** A token's resources as stored (after `push` checked them): cores, GPUs, memory in bytes. */
export interface Resources {
  cpus: number;
  gpus: number;
  mem: number;
}

/**
 * A token to push, as an object (the fields of a .json/.jsonl/.yaml token file). Fields picas does not know
 * are kept on the token as they are.
 */
export interface TokenObject {
  /** what the work gets: a shell command for `picas-worker`, any JSON for a `runPilot` work function */
  input: unknown;
  /** its id; default `<prefix>_<hash of its content>`, so pushing the same token twice adds nothing */
  id?: string;
  /** higher is claimed first (default 0) */
  priority?: number;
  /** how long it is expected to run, for a pilot's time budget (seconds) */
  expected_seconds?: number;
  /** what it needs of its pilot (default 1 core) */
  resources?: ResourcesInput;
  /** ids of tokens it waits for (docs/dag.md) */
  depends_on?: string | string[];
  [field: string]: unknown;
}

/** A token to push: an object, or a string (its input, as a line of a .txt token file). */
export type TokenInput = string | TokenObject;

/** A token as stored in the pool (PiCaS' schema plus picas' fields, docs/cli.md). */
export interface Token {
  _id: string;
  _rev?: string;
  type: string;
  /** 0 todo; epoch seconds when claimed; -1 waiting for dependencies */
  lock: number;
  /** 0 unless finished: epoch seconds */
  done: number;
  hostname: string;
  scrub_count: number;
  input: unknown;
  exit_code: number | string;
  /** a `runPilot` work function's result */
  output?: unknown;
  error?: Array<{ time: number; message?: string; exception?: string }>;
  priority?: number;
  expected_seconds?: number;
  resources?: Resources;
  attempts?: number;
  worker_id?: string;
  depends_on?: string[];
  [field: string]: unknown;
}
