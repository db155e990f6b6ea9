/**
 * Python PiCaS' own configuration, as `picas-cli init` (PiCaS 1.1) writes it and as `picas config init` writes
 * it too, so that either tool reads what the other wrote:
 *
 * - `~/.config/picas/conf.yml`: exactly the keys `host_url`, `database`, `username` and `encrypted_password`
 *   (PiCaS validates it with `additionalProperties: false`), written with the default file mode.
 * - `~/.config/picas/key.dat`: the Fernet key (44 characters, no newline), mode 0600. PiCaS always reads it
 *   from there, whatever `--config` says. When the directory does not exist yet it is created with mode 0700.
 *
 * Nothing here ever puts the password, the token or the key into an error message.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './errors.js';
import { FernetError, fernetDecrypt, fernetEncrypt, generateFernetKey, parseFernetKey } from './fernet.js';
import { yamlModule } from './lazy-modules.js';

/** The keys of PiCaS' conf.yml, in the order PyYAML's safe_dump writes them (sorted). */
export const PICAS_CONFIG_KEYS = ['database', 'encrypted_password', 'host_url', 'username'] as const;

export function picasConfigDir(home: string = homedir()): string {
  return join(home, '.config', 'picas');
}

/** PiCaS' default config file, `~/.config/picas/conf.yml`. */
export function picasConfigPath(home?: string): string {
  return join(picasConfigDir(home), 'conf.yml');
}

/** PiCaS' key file, `~/.config/picas/key.dat` (always there, whichever config file is used). */
export function picasKeyPath(home?: string): string {
  return join(picasConfigDir(home), 'key.dat');
}

/** Reads and checks the key file; a missing or malformed one is a one-line error naming the file. */
export function readKeyFile(keyPath: string, configPath?: string): string {
  let text: string;
  try {
    text = readFileSync(keyPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`;
    throw new UsageError(
      `${configPath ? `${configPath} has an encrypted_password, but its key file ` : 'the key file '}${keyPath} ${why}; run \`picas config init\` to write both again`,
      { cause: err },
    );
  }
  try {
    parseFernetKey(text);
  } catch {
    throw new UsageError(
      `${configPath ? `${configPath} has an encrypted_password, but its key file ` : ''}${keyPath} does not hold a Fernet key (44 characters of base64url); run \`picas config init\` to write a new one`,
    );
  }
  return text.trim();
}

/** The password from conf.yml's `encrypted_password`, with the key from key.dat. */
export function decryptConfigPassword(token: unknown, files: { configPath: string; keyPath: string }): string {
  if (typeof token !== 'string' || token.trim() === '') {
    throw new UsageError(`${files.configPath}: encrypted_password must be a Fernet token (a string); run \`picas config init\` to write it again`);
  }
  const key = readKeyFile(files.keyPath, files.configPath);
  try {
    return fernetDecrypt(key, token).toString('utf8');
  } catch (err) {
    const why = err instanceof FernetError ? err.message : 'it cannot be decrypted';
    throw new UsageError(
      `${files.configPath}: encrypted_password does not decrypt with the key in ${files.keyPath} (${why}); run \`picas config init\` to write both again`,
    );
  }
}

/**
 * Makes sure the key file exists, as PiCaS' `generate_and_save_key(skip_if_exists=True)` does: an existing
 * key is kept (and checked), a missing one is generated with mode 0600.
 */
export function ensureKeyFile(keyPath: string): { created: boolean; key: string } {
  if (existsSync(keyPath)) return { created: false, key: readKeyFile(keyPath) };
  const dir = dirname(keyPath);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  const key = generateFernetKey();
  const fd = openSync(keyPath, 'wx', 0o600);
  try {
    writeSync(fd, key);
  } finally {
    closeSync(fd);
  }
  chmodSync(keyPath, 0o600);
  return { created: true, key };
}

export function encryptConfigPassword(password: string, key: string): string {
  return fernetEncrypt(key, password);
}

/** Reads a YAML config file as a mapping (undefined when the file does not exist). */
export function readConfigMapping(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = yamlModule().parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    throw new UsageError(`${path}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${path}: must be a mapping of setting: value`);
  return parsed as Record<string, unknown>;
}

/** The YAML text PiCaS writes: block style, keys sorted, strings quoted where YAML 1.1 (PyYAML) needs it. */
export function configYamlText(values: Record<string, unknown>): string {
  return yamlModule().stringify(values, { version: '1.1', sortMapEntries: true, lineWidth: 0 });
}

/**
 * Writes conf.yml (its directory made if missing, 0700 like PiCaS' key directory), replacing it at once
 * (a temp file renamed over it), with the default file mode as PiCaS' `open(path, 'w')` gives it; an
 * existing file keeps its mode.
 */
export function writeConfigFile(path: string, values: Record<string, unknown>): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = existsSync(path) ? statSync(path).mode & 0o777 : undefined;
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', mode ?? 0o666);
  try {
    writeSync(fd, configYamlText(values));
  } finally {
    closeSync(fd);
  }
  if (mode !== undefined) chmodSync(tmp, mode);
  renameSync(tmp, path);
}
