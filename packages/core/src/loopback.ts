/**
 * Is an address this machine's own (loopback)? One rule for every caller: `localhost`, `::1` (with or without
 * brackets) and 127.0.0.0/8. Launchers warn when pilots on other machines would be sent to a loopback CouchDB;
 * the dashboard answers only to a loopback Host header unless it has an access token.
 */

/** A host name as in a URL or a Host header (no port): `localhost`, `127.0.0.1`, `[::1]`, ... */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** A whole URL; one that does not parse is not loopback. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return isLoopbackHost(host);
}
