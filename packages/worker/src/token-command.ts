/** What runs for a token, in which environment, and how its text reaches bash. */
import { writeFileSync } from 'node:fs';
import { inputText, leaseExpiries, MAX_LEASE_EXPIRIES, PARAM_NAME, paramEnvName, type TokenDoc } from '@picas/core';
import type { RunPaths } from './run-files.js';

/**
 * Longest text (bytes) passed inline, as `bash -c` argument or as PICAS_TOKEN_INPUT: Linux refuses one
 * argument or environment string over 128 KiB (MAX_ARG_STRLEN) with E2BIG. A longer command is written to
 * the run's text file and run as `bash FILE`; a longer input goes to PICAS_TOKEN_INPUT_FILE instead.
 */
export const MAX_INLINE_BYTES = 96 * 1024;

/** `--command` if given (the input goes in PICAS_TOKEN_INPUT), else the input when it is a string. */
export function commandFor(doc: TokenDoc, command?: string): string | undefined {
  if (command) return command;
  return typeof doc.input === 'string' ? doc.input : undefined;
}

/**
 * The command's environment: the pilot's, plus PICAS_TOKEN_ID and PICAS_TOKEN_INPUT (and a sweep token's
 * parameters as PICAS_PARAM_<NAME>, docs/sweeps.md), minus the CouchDB password (a command that prints its
 * environment would otherwise store it in the token's logs).
 */
export function tokenEnv(base: Record<string, string | undefined>, doc: TokenDoc): Record<string, string | undefined> {
  const { PICAS_PASSWORD, ...rest } = base;
  void PICAS_PASSWORD;
  return {
    ...rest,
    PICAS_TOKEN_ID: doc._id,
    PICAS_TOKEN_INPUT: inputText(doc.input),
    ...(Array.isArray(doc.depends_on) && doc.depends_on.length > 0 ? { PICAS_DEPENDS_ON: doc.depends_on.join(',') } : {}),
    ...paramEnv(doc.params),
  };
}

/** A sweep token's `params` as PICAS_PARAM_<NAME> variables (string and number values; others are skipped). */
function paramEnv(params: unknown): Record<string, string> {
  if (!params || typeof params !== 'object' || Array.isArray(params)) return {};
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    if (!PARAM_NAME.test(name) || (typeof value !== 'string' && typeof value !== 'number') || String(value).includes('\0')) continue;
    env[paramEnvName(name)] = String(value);
  }
  return env;
}

/** How bash is started for one run: its arguments and environment. */
export interface Invocation {
  bashArgs: string[];
  env: Record<string, string | undefined>;
}

/** Why a token is not run again whatever its work (it ends in error with this reason), or undefined. */
export function whyNotRunAgain(doc: TokenDoc): string | undefined {
  const expiries = leaseExpiries(doc);
  if (expiries >= MAX_LEASE_EXPIRIES) {
    return `not run again: its lease expired ${expiries} times without a result (its pilots died, or could not start or record it)`;
  }
  return undefined;
}

/** Why a token's command is not run (it ends in error with this reason), or undefined. */
export function whyNotRun(doc: TokenDoc, command: string | undefined): string | undefined {
  const again = whyNotRunAgain(doc);
  if (again) return again;
  if (command === undefined) return 'the token input is not a shell command (a string) and no --command was given';
  if (command.includes('\0')) return 'the command contains a NUL byte, which no shell command can hold';
  return undefined;
}

function fitsInline(text: string): boolean {
  return text.length <= MAX_INLINE_BYTES / 4 || Buffer.byteLength(text) <= MAX_INLINE_BYTES;
}

/**
 * The bash arguments and environment of one run. A command that does not fit inline is written to the run's
 * text file and run as `bash FILE` (stdin stays as it is); an input that does not fit (with --command) is
 * written there instead and named by PICAS_TOKEN_INPUT_FILE. PICAS_TOKEN_DIR is the run's scratch directory.
 */
export function invocation(command: string, doc: TokenDoc, base: Record<string, string | undefined>, paths: RunPaths): Invocation {
  const env = tokenEnv(base, doc);
  env.PICAS_TOKEN_DIR = paths.dir;
  const input = env.PICAS_TOKEN_INPUT!;
  if (!fitsInline(command)) {
    writeFileSync(paths.scriptPath, command);
    if (input === command) {
      delete env.PICAS_TOKEN_INPUT;
      env.PICAS_TOKEN_INPUT_FILE = paths.scriptPath;
    }
    return { bashArgs: [paths.scriptPath], env };
  }
  if (!fitsInline(input) || input.includes('\0')) {
    writeFileSync(paths.scriptPath, input);
    delete env.PICAS_TOKEN_INPUT;
    env.PICAS_TOKEN_INPUT_FILE = paths.scriptPath;
  }
  return { bashArgs: ['-c', command], env };
}
