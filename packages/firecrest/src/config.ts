/**
 * FirecREST settings under the names users already have for pyfirecrest and firecrest-executor:
 * FIRECREST_URL, FIRECREST_CLIENT_ID, FIRECREST_CLIENT_SECRET, AUTH_TOKEN_URL, FIRECREST_SYSTEM and
 * FIRECREST_ACCOUNT. Flags win over the environment, which wins over `.env`. Validated once, and every
 * problem is reported at once.
 */
import { resolveSettings, UsageError, type SettingLayers, type SettingSpec } from '@picas/core';
import type { ClientCredentials } from './auth.js';

export const firecrestSettings: readonly SettingSpec[] = [
  { key: 'firecrestUrl', flag: '--firecrest-url', env: ['FIRECREST_URL'], type: 'url', description: 'FirecREST API address, with any root path (env FIRECREST_URL)' },
  { key: 'authTokenUrl', flag: '--auth-token-url', env: ['AUTH_TOKEN_URL'], type: 'url', description: 'OIDC token endpoint (env AUTH_TOKEN_URL)' },
  { key: 'clientId', flag: '--client-id', env: ['FIRECREST_CLIENT_ID'], type: 'string', description: 'OIDC client id (env FIRECREST_CLIENT_ID)' },
  // no flag on purpose: a secret on the command line is visible to every user of the machine (ps)
  { key: 'clientSecret', flag: 'FIRECREST_CLIENT_SECRET', env: ['FIRECREST_CLIENT_SECRET'], type: 'secret', description: 'OIDC client secret (env FIRECREST_CLIENT_SECRET or .env only)' },
  { key: 'system', flag: '--system', env: ['FIRECREST_SYSTEM'], type: 'string', description: 'the cluster, as FirecREST names it (env FIRECREST_SYSTEM)' },
  { key: 'account', flag: '--account', env: ['FIRECREST_ACCOUNT'], type: 'string', description: 'project to charge (env FIRECREST_ACCOUNT)' },
];

export interface FirecrestConfig extends ClientCredentials {
  url: string;
  system?: string;
  account?: string;
}

const REQUIRED: ReadonlyArray<[key: string, name: string, what: string]> = [
  ['firecrestUrl', 'FIRECREST_URL', 'the FirecREST API address (or --firecrest-url)'],
  ['authTokenUrl', 'AUTH_TOKEN_URL', 'the token endpoint of your site\'s identity server (or --auth-token-url)'],
  ['clientId', 'FIRECREST_CLIENT_ID', 'the id of your FirecREST API client (or --client-id)'],
  ['clientSecret', 'FIRECREST_CLIENT_SECRET', 'the secret of your FirecREST API client (in the environment or .env)'],
];

export interface FirecrestConfigResult {
  config?: FirecrestConfig;
  errors: string[];
}

/**
 * Resolves and checks the FirecREST settings. `requireSystem` also demands FIRECREST_SYSTEM (or --system);
 * `credentials: false` skips the URL and credential checks (e.g. for a dry run).
 */
export function resolveFirecrestConfig(layers: SettingLayers, options: { requireSystem?: boolean; credentials?: boolean } = {}): FirecrestConfigResult {
  const resolved = resolveSettings(firecrestSettings, layers);
  const errors = [...resolved.errors];
  const v = resolved.values;
  if (options.credentials !== false) {
    for (const [key, name, what] of REQUIRED) {
      // a value that was given but is invalid already has its own error
      if ((v[key] === undefined && resolved.sources[key] === 'default') || v[key] === '') errors.push(`${name} is not set: ${what}`);
    }
  }
  if (options.requireSystem && !v.system && resolved.sources.system === 'default') errors.push('FIRECREST_SYSTEM is not set: the cluster to use, as FirecREST names it (or --system)');
  if (typeof v.system === 'string' && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v.system)) {
    errors.push(`--system (from ${resolved.sources.system}): '${v.system}' is not a system name (letters, digits, . _ -)`);
  }
  if (errors.length > 0) return { errors };
  return {
    config: {
      url: String(v.firecrestUrl ?? ''),
      tokenUrl: String(v.authTokenUrl ?? ''),
      clientId: String(v.clientId ?? ''),
      clientSecret: String(v.clientSecret ?? ''),
      system: v.system as string | undefined,
      account: v.account as string | undefined,
    },
    errors,
  };
}

/** Like `resolveFirecrestConfig`, throwing one UsageError that lists every problem. */
export function loadFirecrestConfig(layers: SettingLayers, options: { requireSystem?: boolean; credentials?: boolean } = {}): FirecrestConfig {
  const result = resolveFirecrestConfig(layers, options);
  if (!result.config) {
    const message = result.errors.length === 1 ? result.errors[0]! : `invalid FirecREST configuration (${result.errors.length} problems)`;
    throw new UsageError(message, { problems: result.errors });
  }
  return result.config;
}
