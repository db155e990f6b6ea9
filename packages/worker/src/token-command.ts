/** What runs for a token, and in which environment. */
import type { TokenDoc } from '@picas/core';

/** `--command` if given (the input goes in PICAS_TOKEN_INPUT), else the input when it is a string. */
export function commandFor(doc: TokenDoc, command?: string): string | undefined {
  if (command) return command;
  return typeof doc.input === 'string' ? doc.input : undefined;
}

/**
 * The command's environment: the pilot's, plus PICAS_TOKEN_ID and PICAS_TOKEN_INPUT, minus the CouchDB
 * password (a command that prints its environment would otherwise store it in the token's logs).
 */
export function tokenEnv(base: Record<string, string | undefined>, doc: TokenDoc): Record<string, string | undefined> {
  const { PICAS_PASSWORD, ...rest } = base;
  void PICAS_PASSWORD;
  return {
    ...rest,
    PICAS_TOKEN_ID: doc._id,
    PICAS_TOKEN_INPUT: typeof doc.input === 'string' ? doc.input : JSON.stringify(doc.input ?? null),
    ...(Array.isArray(doc.depends_on) && doc.depends_on.length > 0 ? { PICAS_DEPENDS_ON: doc.depends_on.join(',') } : {}),
  };
}
