/**
 * Layered settings: defaults, then a config file, then `.env`, then the environment, then flags.
 * Everything is validated once, and every problem is reported at once (never only the first).
 */
import { parseDuration } from './duration.js';

export type SettingType = 'string' | 'secret' | 'url' | 'int' | 'number' | 'duration' | 'boolean' | 'enum';

export interface SettingSpec {
  /** camelCase key, also the yargs/commander option name in camelCase */
  key: string;
  /** the flag users type, e.g. `--lease` */
  flag: string;
  /** env var names, first wins; the first one is the documented twin */
  env: readonly string[];
  type: SettingType;
  default?: string | number | boolean;
  choices?: readonly string[];
  min?: number;
  description: string;
  /** keys accepted in the YAML/JSON config file (e.g. PiCaS' `host_url`) */
  fileKeys?: readonly string[];
}

export type SettingValue = string | number | boolean | undefined;

export interface SettingLayers {
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  dotenv?: Record<string, string>;
  dotenvName?: string;
  file?: Record<string, unknown>;
  fileName?: string;
}

export interface ResolvedSettings {
  values: Record<string, SettingValue>;
  /** where each value came from, for `--print-config` style diagnostics: default, file, .env, env, flag */
  sources: Record<string, string>;
  /** settings whose value from `.env` replaced a different one from the config file (a stale `.env` is a common surprise) */
  shadowed: ShadowedSetting[];
  errors: string[];
}

export interface ShadowedSetting {
  spec: SettingSpec;
  /** the `.env` source that won, and the config file's that lost, e.g. `/x/.env (PICAS_URL)` and `/y/conf.yml (host_url)` */
  winner: string;
  loser: string;
}

export function resolveSettings(specs: readonly SettingSpec[], layers: SettingLayers): ResolvedSettings {
  const values: Record<string, SettingValue> = {};
  const sources: Record<string, string> = {};
  const shadowed: ShadowedSetting[] = [];
  const errors: string[] = [];
  for (const spec of specs) {
    let raw: unknown = undefined;
    let source = 'default';
    let fromFile: { raw: unknown; source: string } | undefined;
    if (spec.default !== undefined) raw = spec.default;
    if (layers.file) {
      for (const key of spec.fileKeys ?? [spec.key]) {
        if (layers.file[key] !== undefined && layers.file[key] !== null) {
          raw = layers.file[key];
          source = `${layers.fileName ?? 'config file'} (${key})`;
          fromFile = { raw, source };
          break;
        }
      }
    }
    if (layers.dotenv) {
      const name = spec.env.find((n) => layers.dotenv![n] !== undefined && layers.dotenv![n] !== '');
      if (name) {
        raw = layers.dotenv[name];
        source = `${layers.dotenvName ?? '.env'} (${name})`;
        if (fromFile && String(fromFile.raw).trim() !== String(raw).trim()) shadowed.push({ spec, winner: source, loser: fromFile.source });
      }
    }
    if (layers.env) {
      const name = spec.env.find((n) => layers.env![n] !== undefined && layers.env![n] !== '');
      if (name) {
        raw = layers.env[name];
        source = `env ${name}`;
      }
    }
    if (layers.flags && layers.flags[spec.key] !== undefined) {
      raw = layers.flags[spec.key];
      source = spec.flag;
    }
    // only a `.env` value that is the one used is worth a warning
    if (shadowed.at(-1)?.spec === spec && shadowed.at(-1)!.winner !== source) shadowed.pop();
    sources[spec.key] = source;
    if (raw === undefined) {
      values[spec.key] = undefined;
      continue;
    }
    try {
      values[spec.key] = coerce(spec, raw);
    } catch (err) {
      errors.push(`${spec.flag} (from ${source}): ${(err as Error).message}`);
    }
  }
  return { values, sources, shadowed, errors };
}

function coerce(spec: SettingSpec, raw: unknown): SettingValue {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  switch (spec.type) {
    case 'string':
    case 'secret':
      return String(text);
    case 'url': {
      const s = String(text);
      let url: URL;
      const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? undefined : `http://${s}`;
      const suggestion = withScheme && URL.canParse(withScheme) ? ` (did you mean ${withScheme}?)` : '';
      try {
        url = new URL(s);
      } catch {
        throw new Error(`not a valid URL${suggestion}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`must start with http:// or https://${suggestion}`);
      return s;
    }
    case 'int': {
      const n = typeof text === 'number' ? text : Number(text);
      if (!Number.isInteger(n)) throw new Error(`'${String(text)}' is not a whole number`);
      if (spec.min !== undefined && n < spec.min) throw new Error(`must be at least ${spec.min}`);
      return n;
    }
    case 'number': {
      const n = typeof text === 'number' ? text : Number(text);
      if (!Number.isFinite(n)) throw new Error(`'${String(text)}' is not a number`);
      if (spec.min !== undefined && n < spec.min) throw new Error(`must be at least ${spec.min}`);
      return n;
    }
    case 'duration': {
      const ms = parseDuration(text as string | number);
      if (spec.min !== undefined && ms < spec.min) throw new Error(`must be at least ${spec.min} ms`);
      return ms;
    }
    case 'boolean': {
      if (typeof text === 'boolean') return text;
      const s = String(text).toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
      throw new Error(`'${String(text)}' is not a boolean (use true or false)`);
    }
    case 'enum': {
      const s = String(text);
      if (!spec.choices?.includes(s)) throw new Error(`'${s}' is not one of ${spec.choices?.join(', ')}`);
      return s;
    }
  }
}
