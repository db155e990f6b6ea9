/**
 * `connect()`: the pool handle from the same layered configuration as the CLI and `picas-worker` (defaults,
 * `.env`, the environment, the config file, then the options given here), validated once with every problem
 * reported at once; no password ever appears in an error.
 */
import { loadConnectionConfig, loadLayers, redactText, UsageError, type ConnectionConfig } from '@picas/core';

export interface ConnectOptions {
  /** CouchDB base URL (like --url / PICAS_URL); default: the embedded server's */
  url?: string;
  /** database name (like --db / PICAS_DB); default `picas` */
  db?: string;
  username?: string;
  password?: string;
  /** YAML config file (like --config / PICAS_CONFIG); default ~/.config/picas/conf.yml if present */
  config?: string;
  /** where `.env` and a running `picas server`'s state are looked for; default the working directory */
  cwd?: string;
  /** the environment read for PICAS_* settings; default `process.env` */
  env?: Record<string, string | undefined>;
}

/** @internal The validated connection, with its notices (e.g. "using the embedded server") and warnings. */
export interface ResolvedConnection {
  config: ConnectionConfig;
  notices: string[];
  warnings: string[];
}

/** @internal Resolves the layered connection settings; throws a UsageError whose `problems` list every problem. */
export function resolvePoolConnection(options: ConnectOptions = {}): ResolvedConnection {
  const env = options.env ?? process.env;
  const ctx = { flags: { url: options.url, db: options.db, username: options.username, password: options.password, config: options.config }, env, cwd: options.cwd };
  const secrets = [options.password, env.PICAS_PASSWORD].filter((s): s is string => !!s);
  try {
    return loadConnectionConfig(ctx, loadLayers(ctx));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // the message is rebuilt without the original as its cause: that would carry the unredacted text
    throw new UsageError(redactText(err.message, secrets), { problems: err.problems.map((p) => redactText(p, secrets)) });
  }
}
