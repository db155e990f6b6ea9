/** The one error for ids that name no token (exit code 4, as for every command that takes ids). */
import { NotFoundError } from '@picas/core';

export function missingTokensError(ids: readonly string[], db: string): NotFoundError {
  if (ids.length === 1) return new NotFoundError(`token '${ids[0]}' not found in database '${db}'`);
  const shown = ids.length > 10 ? `${ids.slice(0, 10).join(', ')}, ...` : ids.join(', ');
  return new NotFoundError(`${ids.length} tokens not found in database '${db}': ${shown}`);
}
