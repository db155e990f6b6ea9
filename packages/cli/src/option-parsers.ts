/** commander option parsers: each turns bad input into one clear usage error naming the flag's value. */
import { InvalidArgumentError } from 'commander';
import { ALL_TOKEN_STATES, parseDuration, parseSize, type AnyTokenState } from '@picas/core';

export function durationOption(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function countOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`'${value}' is not a whole number`);
  return n;
}

export function positiveCountOption(value: string): number {
  const n = countOption(value);
  if (n < 1) throw new InvalidArgumentError(`must be at least 1`);
  return n;
}

/** A size in bytes: bytes, or K/M/G/T (binary) like 512M, 16G. */
export function sizeOption(value: string): number {
  const bytes = parseSize(value);
  if (bytes === undefined) throw new InvalidArgumentError(`'${value}' is not a size (bytes, or a number with K, M, G or T, like 16G)`);
  return bytes;
}

export function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`'${value}' is not a port number (0-65535; 0 picks a free port)`);
  return n;
}

/** For a repeatable option of ids: each use adds its comma-separated ids to the list. */
export function idListOption(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/** For a repeatable option: each use adds its value to the list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export const STATE_CHOICES: readonly AnyTokenState[] = ALL_TOKEN_STATES;
