/**
 * The Fernet implementation against the spec's published test vectors (github.com/fernet/spec:
 * generate.json, verify.json, invalid.json, version 0x80), and against the PiCaS 1.1 fixture made by Python's
 * `cryptography` (fixtures/generate-picas-1.1-home.py).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeBase64Url, FernetError, fernetDecrypt, fernetEncrypt, generateFernetKey, parseFernetKey } from '../src/fernet.js';

const SECRET = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const fixtureHome = join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/picas-1.1-home/.config/picas');

// generate.json
const GENERATE = {
  token: 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
  now: '1985-10-26T01:20:00-07:00',
  iv: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  src: 'hello',
  secret: SECRET,
};

// verify.json
const VERIFY = { token: GENERATE.token, now: '1985-10-26T01:20:01-07:00', ttl_sec: 60, src: 'hello', secret: SECRET };

// invalid.json (every case: now 1985-10-26T01:20:01-07:00 unless given, ttl_sec 60)
const INVALID: Array<{ desc: string; token: string; now?: string }> = [
  { desc: 'incorrect mac', token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==' },
  { desc: 'too short', token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==' },
  { desc: 'invalid base64', token: '%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==' },
  { desc: 'payload size not multiple of block size', token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm' },
  { desc: 'payload padding error', token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==' },
  { desc: 'far-future TS (unacceptable clock skew)', token: 'gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==' },
  { desc: 'expired TTL', token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==', now: '1985-10-26T01:21:31-07:00' },
  { desc: 'incorrect IV (causes padding error)', token: 'gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==' },
  { desc: 'trailing characters after b64 padding', token: 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==trailingdata' },
  { desc: 'invalid characters in b64', token: '*gAAAAAAdwJ6wAAECAwQFBgcI!CQoLDA0ODy021?cpGVWKZ_eEwC@GM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==' },
  { desc: 'invalid non-urlsafe characters in b64', token: 'gAAAAAAdwJ6wAAEC/AwQFBgcICQoLDA0ODy+021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==' },
];

test('generate.json: the same token from the same key, time, IV and message', () => {
  const token = fernetEncrypt(GENERATE.secret, GENERATE.src, { now: new Date(GENERATE.now), iv: Buffer.from(GENERATE.iv) });
  assert.equal(token, GENERATE.token);
});

test('verify.json: the token decrypts to its message within its TTL', () => {
  assert.equal(fernetDecrypt(VERIFY.secret, VERIFY.token, { ttlSec: VERIFY.ttl_sec, now: new Date(VERIFY.now) }).toString('utf8'), VERIFY.src);
  // PiCaS decrypts without a TTL: so does the default
  assert.equal(fernetDecrypt(VERIFY.secret, VERIFY.token).toString('utf8'), VERIFY.src);
});

for (const vector of INVALID) {
  test(`invalid.json: ${vector.desc} is refused`, () => {
    assert.throws(
      () => fernetDecrypt(SECRET, vector.token, { ttlSec: 60, now: new Date(vector.now ?? '1985-10-26T01:20:01-07:00') }),
      (err: unknown) => err instanceof FernetError && !err.message.includes(SECRET),
    );
  });
}

test('the HMAC is checked before decryption: any changed byte, or another key, is a bad signature', () => {
  const key = generateFernetKey();
  const token = fernetEncrypt(key, 'p4ssw0rd');
  const bytes = decodeBase64Url(token)!;
  for (const at of [0 + 1, 9, 30, bytes.length - 40, bytes.length - 1]) {
    const changed = Buffer.from(bytes);
    changed[at]! ^= 0x01;
    assert.throws(() => fernetDecrypt(key, changed.toString('base64url')), (err: unknown) => err instanceof FernetError && err.reason === 'bad-signature', `byte ${at}`);
  }
  assert.throws(() => fernetDecrypt(generateFernetKey(), token), (err: unknown) => err instanceof FernetError && err.reason === 'bad-signature' && !err.message.includes('p4ssw0rd'));
  assert.equal(fernetDecrypt(key, token).toString(), 'p4ssw0rd');
});

test('keys: 32 bytes of base64url; anything else is refused', () => {
  assert.equal(parseFernetKey(`${SECRET}\n`).signing.length, 16);
  assert.equal(generateFernetKey().length, 44);
  for (const bad of ['', 'short', SECRET.slice(0, -4), SECRET.replace('_', '/'), `${SECRET}AAAA`]) {
    assert.throws(() => parseFernetKey(bad), (err: unknown) => err instanceof FernetError && err.reason === 'bad-key', bad);
  }
});

test("PiCaS 1.1's conf.yml (made by Python's cryptography) decrypts with its key.dat", () => {
  const key = readFileSync(join(fixtureHome, 'key.dat'), 'utf8');
  assert.equal(key, 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', 'the documented test key: bytes 0..31');
  const token = /^encrypted_password: (\S+)$/m.exec(readFileSync(join(fixtureHome, 'conf.yml'), 'utf8'))![1]!;
  assert.equal(fernetDecrypt(key, token).toString('utf8'), 's3cret-fixture-π');
  // and ours, made from the same parts, is the same token byte for byte
  assert.equal(fernetEncrypt(key, 's3cret-fixture-π', { now: new Date('2025-01-01T00:00:00Z'), iv: Buffer.from([...Array(16).keys()].map((i) => i + 16)) }), token);
});
