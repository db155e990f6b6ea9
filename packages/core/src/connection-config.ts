/**
 * Where the CouchDB server is and how to log in: `--url/--db/--username/--password`, `PICAS_*` env vars
 * (also PiCaS' own `PICAS_HOST_URL` and `PICAS_DATABASE`), `.env`, and a YAML config file
 * (`--config`, `PICAS_CONFIG`, or PiCaS' `~/.config/picas/conf.yml`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { UsageError } from './errors.js';
import { yamlModule } from './lazy-modules.js';
import { decryptConfigPassword, picasKeyPath } from './picas-config-file.js';
import { redactUrl } from './redact.js';
import { resolveSettings, type ShadowedSetting, type SettingSpec, type SettingValue } from './settings.js';

export const EMBEDDED_DEFAULT_PORT = 5984;
export const EMBEDDED_DEFAULT_URL = `http://127.0.0.1:${EMBEDDED_DEFAULT_PORT}`;
export const DEFAULT_DB = 'picas';

export interface ConnectionConfig {
  /** base URL without credentials */
  url: string;
  db: string;
  username?: string;
  password?: string;
  /** true when nothing was configured and the embedded server's address is used */
  embedded: boolean;
  /** where the user name and password came from (flag, env, .env, config file...), for a failed login's message */
  credentialSources?: CredentialSources;
}

/** Where the user name and password came from, e.g. `env PICAS_USERNAME`; never their values. */
export interface CredentialSources {
  username?: string;
  password?: string;
}

export const connectionSettings: readonly SettingSpec[] = [
  { key: 'url', flag: '--url', env: ['PICAS_URL', 'PICAS_HOST_URL'], type: 'url', fileKeys: ['url', 'host_url'], description: 'CouchDB base URL' },
  { key: 'db', flag: '--db', env: ['PICAS_DB', 'PICAS_DATABASE'], type: 'string', fileKeys: ['db', 'database'], description: `database name (default: ${DEFAULT_DB})` },
  { key: 'username', flag: '--username', env: ['PICAS_USERNAME'], type: 'string', fileKeys: ['username', 'user'], description: 'CouchDB user name' },
  { key: 'password', flag: '--password', env: ['PICAS_PASSWORD'], type: 'secret', fileKeys: ['password', 'encrypted_password'], description: 'CouchDB password (prefer PICAS_PASSWORD or .env)' },
];

export interface LoadContext {
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  cwd?: string;
  home?: string;
}

export interface LoadedLayers {
  env: Record<string, string | undefined>;
  dotenv?: Record<string, string>;
  dotenvName?: string;
  file?: Record<string, unknown>;
  fileName?: string;
  /** PiCaS' key file, used when the config file has an `encrypted_password` */
  keyPath?: string;
  /** why the config file's `encrypted_password` could not be decrypted; an error only if no other password is given */
  passwordError?: string;
  errors: string[];
}

/** Reads `.env` (from cwd) and the YAML config file. Shared by the CLI and the worker. */
export function loadLayers(ctx: LoadContext): LoadedLayers {
  const env = ctx.env ?? process.env;
  const cwd = ctx.cwd ?? process.cwd();
  const errors: string[] = [];
  const out: LoadedLayers = { env, errors };
  const dotenvPath = join(cwd, '.env');
  if (existsSync(dotenvPath)) {
    try {
      out.dotenv = parseDotenv(readFileSync(dotenvPath));
      out.dotenvName = dotenvPath;
    } catch (err) {
      errors.push(`${dotenvPath}: ${(err as Error).message}`);
    }
  }
  const explicit = (ctx.flags?.config as string | undefined) ?? env.PICAS_CONFIG;
  const implicit = join(ctx.home ?? homedir(), '.config', 'picas', 'conf.yml');
  const configPath = explicit ? resolve(cwd, explicit) : existsSync(implicit) ? implicit : undefined;
  if (configPath) {
    if (!existsSync(configPath)) {
      errors.push(`--config: file ${configPath} does not exist`);
    } else {
      try {
        const parsed = yamlModule().parse(readFileSync(configPath, 'utf8')) as unknown;
        if (parsed !== null && parsed !== undefined) {
          if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('must be a mapping of setting: value');
          out.file = parsed as Record<string, unknown>;
        }
        out.fileName = configPath;
        if (out.file && out.file.encrypted_password !== undefined && out.file.encrypted_password !== null && out.file.password == null) {
          // PiCaS 1.1's conf.yml: the password is a Fernet token, its key in ~/.config/picas/key.dat
          out.keyPath = picasKeyPath(ctx.home ?? homedir());
          const file: Record<string, unknown> = { ...out.file };
          try {
            file.encrypted_password = decryptConfigPassword(file.encrypted_password, { configPath, keyPath: out.keyPath });
          } catch (err) {
            delete file.encrypted_password;
            out.passwordError = (err as Error).message;
          }
          out.file = file;
        }
      } catch (err) {
        errors.push(`${configPath}: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

/** The state file a running `picas server` writes, so that a bare `picas` finds it with its credentials. */
export function embeddedStatePath(cwd: string = process.cwd()): string {
  return join(cwd, '.picas', 'server.json');
}

export interface EmbeddedState {
  url: string;
  username?: string;
  password?: string;
  pid?: number;
}

export function readEmbeddedState(cwd?: string): EmbeddedState | undefined {
  const path = embeddedStatePath(cwd);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as EmbeddedState;
  } catch {
    return undefined;
  }
}

export interface ConnectionResult {
  config?: ConnectionConfig;
  notices: string[];
  /** surprises worth a warning: a `.env` value replacing a different one from the config file */
  warnings: string[];
  errors: string[];
}

export function resolveConnection(ctx: LoadContext, layers: LoadedLayers = loadLayers(ctx)): ConnectionResult {
  const notices: string[] = [];
  const resolved = resolveSettings(connectionSettings, { ...layers, flags: ctx.flags });
  const warnings = resolved.shadowed.map((s) => shadowedWarning(s, resolved.values[s.spec.key], layers.file));
  const errors = [...layers.errors, ...resolved.errors];
  if (errors.length > 0) return { notices, warnings, errors };
  let url = resolved.values.url as string | undefined;
  let username = resolved.values.username as string | undefined;
  let password = resolved.values.password as string | undefined;
  const sources: CredentialSources = {
    username: username === undefined ? undefined : resolved.sources.username,
    password: password === undefined ? undefined : resolved.sources.password,
  };
  let embedded = false;
  if (!url) {
    const state = readEmbeddedState(ctx.cwd);
    url = state?.url ?? EMBEDDED_DEFAULT_URL;
    if (username === undefined && state?.username !== undefined) sources.username = embeddedStatePath(ctx.cwd);
    if (password === undefined && state?.password !== undefined) sources.password = embeddedStatePath(ctx.cwd);
    username ??= state?.username;
    password ??= state?.password;
    embedded = true;
    notices.push(`no CouchDB configured (PICAS_URL): using the embedded server at ${url}`);
  }
  const parsed = new URL(url);
  const fauxton = fauxtonRoot(parsed);
  if (fauxton) errors.push(`--url (from ${resolved.sources.url}): ${redactUrl(url)} is not a CouchDB server but Fauxton, its web interface: the server's URL is ${fauxton}`);
  if (parsed.username) {
    const inUrl = `the URL (from ${resolved.sources.url})`;
    if (username === undefined) sources.username = inUrl;
    if (password === undefined) sources.password = inUrl;
    username ??= decodeURIComponent(parsed.username);
    password ??= decodeURIComponent(parsed.password);
    parsed.username = '';
    parsed.password = '';
  }
  if (password === undefined && layers.passwordError) errors.push(layers.passwordError);
  else if (username && password === undefined) errors.push(`--password: user '${username}' is set but no password (PICAS_PASSWORD)`);
  if (errors.length > 0) return { notices, warnings, errors };
  const base = parsed.toString().replace(/\/+$/, '');
  const db = (resolved.values.db as string | undefined) ?? DEFAULT_DB;
  if (!/^[a-z][a-z0-9_$()+/-]*$/.test(db)) {
    return { notices, warnings, errors: [`--db: '${db}' is not a valid CouchDB database name (lowercase letter first, then a-z 0-9 _$()+-/)`] };
  }
  const credentialSources = username === undefined && password === undefined ? undefined : sources;
  return { config: { url: base, db, username, password, embedded, ...(credentialSources ? { credentialSources } : {}) }, notices, warnings, errors };
}

/** For Fauxton's address (`http://host:5984/_utils/`, what a browser shows), the server's URL; CouchDB's API is never below `/_utils`. */
function fauxtonRoot(url: URL): string | undefined {
  const at = url.pathname.search(/\/_utils(\/|$)/);
  if (at < 0) return undefined;
  const root = new URL(url);
  root.pathname = url.pathname.slice(0, at) || '/';
  root.username = '';
  root.password = '';
  root.search = '';
  root.hash = '';
  return root.toString().replace(/\/$/, '');
}

/** `url from ./.env (PICAS_URL), http://a:5984, replaces http://b:5984 from conf.yml (host_url)`; a password's value is never shown. */
function shadowedWarning(shadowed: ShadowedSetting, value: SettingValue, file: Record<string, unknown> | undefined): string {
  const { spec, winner, loser } = shadowed;
  const key = /\(([^()]*)\)$/.exec(loser)?.[1];
  const shown = (v: unknown) => (spec.type === 'url' ? redactUrl(String(v)) : String(v));
  const values = spec.type === 'secret' || !file || key === undefined ? '' : ` (${shown(value)} instead of ${shown(file[key])})`;
  return `${spec.key} from ${winner} replaces a different one from ${loser}${values}; remove one of them`;
}

export function loadConnectionConfig(ctx: LoadContext, layers?: LoadedLayers): { config: ConnectionConfig; notices: string[]; warnings: string[] } {
  const result = resolveConnection(ctx, layers);
  if (!result.config) {
    const [only] = result.errors;
    throw new UsageError(result.errors.length === 1 && only ? only : `invalid configuration (${result.errors.length} problems)`, {
      problems: result.errors,
    });
  }
  return { config: result.config, notices: result.notices, warnings: result.warnings };
}

/** For display: the server URL and database, never with credentials. */
export function describeConnection(config: ConnectionConfig): string {
  return `${redactUrl(config.url)}/${config.db}${config.username ? ` as ${config.username}` : ''}`;
}
