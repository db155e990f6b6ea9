/**
 * The stand-in's OIDC side: a token endpoint (client credentials, form-encoded or HTTP Basic) issuing
 * expiring JWT-shaped tokens, and the check of the bearer token on every API call: none, an expired or
 * revoked one, or one with less than `minLeftSeconds` left is a 401.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpFailure, type Reply } from './replies.js';

export const STANDIN_TOKEN_PATH = '/auth/realms/standin/protocol/openid-connect/token';

export interface TokenIssuerOptions {
  clientId: string;
  clientSecret: string;
  /** the user every token is issued to */
  user: string;
  lifetimeSeconds: number;
  minLeftSeconds: number;
}

export class TokenIssuer {
  private readonly signingKey = randomBytes(32);
  private issued = 0;
  private revokedUpTo = 0;

  constructor(private readonly options: TokenIssuerOptions) {}

  /** Access tokens issued so far. */
  get tokensIssued(): number {
    return this.issued;
  }

  /** Every token issued so far is now expired (as if they had run out mid-run). */
  expireAll(): void {
    this.revokedUpTo = this.issued;
  }

  /** POST to the token endpoint: a client credentials grant. */
  tokenEndpoint(req: IncomingMessage, body: Buffer): Reply {
    const { clientId, clientSecret, lifetimeSeconds } = this.options;
    const form = new URLSearchParams(body.toString('utf8'));
    let id = form.get('client_id') ?? undefined;
    let secret = form.get('client_secret') ?? undefined;
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return { status: 400, json: { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' } };
    }
    if (id !== clientId || secret === undefined || !safeEqual(secret, clientSecret)) {
      return { status: 401, json: { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' } };
    }
    return { status: 200, json: { access_token: this.issue(), expires_in: lifetimeSeconds, refresh_expires_in: 0, token_type: 'Bearer', 'not-before-policy': 0, scope: 'profile email' } };
  }

  /** The token's user, or an HttpFailure 401 saying what is wrong with it. */
  authenticate(req: IncomingMessage): string {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new HttpFailure(401, 'Not authenticated: missing access token');
    const [h, p, s] = match[1]!.split('.');
    if (!h || !p || !s || !safeEqual(s, this.sign(`${h}.${p}`))) throw new HttpFailure(401, 'Invalid access token');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { exp: number; seq: number; sub: string };
    const left = claims.exp - Date.now() / 1000;
    if (left <= 0 || claims.seq <= this.revokedUpTo) throw new HttpFailure(401, 'Access token has expired');
    if (left < this.options.minLeftSeconds) throw new HttpFailure(401, 'Access token expires too soon');
    return claims.sub;
  }

  private issue(): string {
    const { clientId, user, lifetimeSeconds } = this.options;
    this.issued++;
    const now = Math.floor(Date.now() / 1000);
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64({ iss: 'firecrest-standin', sub: user, preferred_username: user, client_id: clientId, iat: now, exp: now + lifetimeSeconds, seq: this.issued, jti: randomBytes(6).toString('hex') });
    return `${header}.${payload}.${this.sign(`${header}.${payload}`)}`;
  }

  private sign(text: string): string {
    return createHmac('sha256', this.signingKey).update(text).digest('base64url');
  }
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
