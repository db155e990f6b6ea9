/**
 * Fernet (https://github.com/fernet/spec, version 0x80), the format Python PiCaS uses (through the
 * `cryptography` package) to keep the CouchDB password in `~/.config/picas/conf.yml`:
 *
 *   key   = base64url(signing key 16 bytes ‖ encryption key 16 bytes)
 *   token = base64url(0x80 ‖ timestamp, 8 bytes big-endian seconds ‖ IV 16 bytes ‖ AES-128-CBC ciphertext
 *           with PKCS#7 padding ‖ HMAC-SHA256(signing key, everything before it))
 *
 * Built on node:crypto only. The HMAC is checked (in constant time) before anything is decrypted.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const HEADER_BYTES = 1 + 8 + 16;
const HMAC_BYTES = 32;
/** how far in the future a token's timestamp may be when a TTL is checked (as in `cryptography`) */
const MAX_CLOCK_SKEW_SEC = 60;

/** Why a key or token was refused; never carries the key, the token or the plaintext. */
export class FernetError extends Error {
  readonly reason: 'bad-key' | 'malformed' | 'bad-version' | 'bad-signature' | 'bad-padding' | 'expired' | 'future';
  constructor(reason: FernetError['reason'], message: string) {
    super(message);
    this.name = 'FernetError';
    this.reason = reason;
  }
}

/**
 * Strict base64url (RFC 4648 §5), with or without `=` padding: any other character, misplaced padding or
 * stray bits is an error (Buffer.from would silently skip them).
 */
export function decodeBase64Url(text: string): Buffer | undefined {
  const m = /^([A-Za-z0-9_-]*)(={0,2})$/.exec(text);
  if (!m) return undefined;
  const body = m[1]!;
  const padding = m[2]!.length;
  if (padding > 0 && (body.length + padding) % 4 !== 0) return undefined;
  if (body.length % 4 === 1) return undefined;
  const bytes = Buffer.from(body, 'base64url');
  // reject non-canonical encodings (stray low bits in the last character)
  if (bytes.toString('base64url') !== body) return undefined;
  return bytes;
}

/** base64url with `=` padding, as Python's `base64.urlsafe_b64encode` writes it. */
export function encodeBase64Url(bytes: Buffer): string {
  const text = bytes.toString('base64url');
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}

export interface FernetKey {
  signing: Buffer;
  encryption: Buffer;
}

/** Parses a Fernet key (44 characters of base64url; surrounding whitespace is ignored). */
export function parseFernetKey(text: string): FernetKey {
  const bytes = decodeBase64Url(text.trim());
  if (!bytes || bytes.length !== 32) throw new FernetError('bad-key', 'not a Fernet key (32 bytes, base64url)');
  return { signing: bytes.subarray(0, 16), encryption: bytes.subarray(16, 32) };
}

/** A new random key, as `Fernet.generate_key()` makes it. */
export function generateFernetKey(): string {
  return encodeBase64Url(randomBytes(32));
}

export interface EncryptOptions {
  /** the token's time (default: now) */
  now?: Date;
  /** the IV (default: 16 random bytes); fixed only for the spec's test vectors */
  iv?: Buffer;
}

export function fernetEncrypt(key: string | FernetKey, plaintext: string | Buffer, options: EncryptOptions = {}): string {
  const k = typeof key === 'string' ? parseFernetKey(key) : key;
  const iv = options.iv ?? randomBytes(16);
  if (iv.length !== 16) throw new FernetError('malformed', 'the IV must be 16 bytes');
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = VERSION;
  header.writeBigUInt64BE(BigInt(Math.floor((options.now ?? new Date()).getTime() / 1000)), 1);
  iv.copy(header, 9);
  const cipher = createCipheriv('aes-128-cbc', k.encryption, iv);
  const ciphertext = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
  const signed = Buffer.concat([header, ciphertext]);
  const hmac = createHmac('sha256', k.signing).update(signed).digest();
  return encodeBase64Url(Buffer.concat([signed, hmac]));
}

export interface DecryptOptions {
  /** refuse tokens older than this many seconds (default: no limit, as PiCaS decrypts) */
  ttlSec?: number;
  /** the current time for the TTL check (default: now) */
  now?: Date;
}

/** Verifies and decrypts a token. Throws FernetError (never naming the key or the plaintext). */
export function fernetDecrypt(key: string | FernetKey, token: string, options: DecryptOptions = {}): Buffer {
  const k = typeof key === 'string' ? parseFernetKey(key) : key;
  const bytes = decodeBase64Url(token.trim());
  if (!bytes) throw new FernetError('malformed', 'the token is not base64url');
  if (bytes.length < HEADER_BYTES + 16 + HMAC_BYTES) throw new FernetError('malformed', 'the token is too short');
  if (bytes[0] !== VERSION) throw new FernetError('bad-version', `unknown Fernet version 0x${bytes[0]!.toString(16)}`);
  const signed = bytes.subarray(0, bytes.length - HMAC_BYTES);
  const expected = createHmac('sha256', k.signing).update(signed).digest();
  if (!timingSafeEqual(expected, bytes.subarray(bytes.length - HMAC_BYTES))) {
    throw new FernetError('bad-signature', 'the signature does not match: a different key, or a changed token');
  }
  const timestamp = Number(bytes.readBigUInt64BE(1));
  if (options.ttlSec !== undefined) {
    const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
    if (timestamp + options.ttlSec < now) throw new FernetError('expired', 'the token has expired');
    if (now + MAX_CLOCK_SKEW_SEC < timestamp) throw new FernetError('future', 'the token is from the future');
  }
  const ciphertext = signed.subarray(HEADER_BYTES);
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) throw new FernetError('malformed', 'the ciphertext is not a whole number of AES blocks');
  const decipher = createDecipheriv('aes-128-cbc', k.encryption, bytes.subarray(9, HEADER_BYTES));
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new FernetError('bad-padding', 'the decrypted data has bad padding');
  }
}
