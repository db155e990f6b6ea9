/**
 * Passwords from a file (`--password-file`: its first line), an environment variable, or a prompt that does
 * not echo (only on a terminal). Never from a flag, where `ps` would show it.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '@picas/core';

export function readPasswordFile(path: string, flag = '--password-file'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const first = text.split(/\r?\n/)[0] ?? '';
  if (first === '') throw new UsageError(`${flag}: ${path} is empty (the password is its first line)`);
  return first;
}

/** Asks on the terminal without echoing what is typed; undefined when stdin is not a terminal. */
export async function promptSecret(question: string): Promise<string | undefined> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return undefined;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            stdin.removeListener('data', onData);
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            stdin.removeListener('data', onData);
            reject(new UsageError('interrupted'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}

/** A new password twice on the terminal; they must match. */
export async function promptNewSecret(what: string): Promise<string | undefined> {
  const first = await promptSecret(`${what}: `);
  if (first === undefined) return undefined;
  if (first === '') throw new UsageError('the password is empty');
  const second = await promptSecret(`${what} (again): `);
  if (second !== first) throw new UsageError('the two passwords differ; nothing was changed');
  return first;
}
