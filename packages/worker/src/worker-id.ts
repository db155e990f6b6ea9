/** A pilot's identity: `--worker-id`, or host-pid-random (unique across pilots sharing a host and a pid). */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export function shortHostname(): string {
  return hostname().split('.')[0] || 'host';
}

export function newWorkerId(given?: string, pid = process.pid): string {
  if (given && given.trim()) return given.trim();
  return `${shortHostname()}-${pid}-${randomBytes(2).toString('hex')}`;
}

/** A token id as a safe file name part (ids may hold any character). */
export function safeFileName(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return cleaned.replace(/^\.+/, '_') || 'token';
}
