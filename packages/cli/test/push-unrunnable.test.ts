/**
 * `picas push` refuses tokens that no pilot can ever run, before anything is written: an input with a NUL
 * byte (no command, argument or environment string can hold one: such a token would come back after every
 * lease, forever) and an input over MAX_INPUT_BYTES. Each problem names the file and line (and the field in
 * JSON and YAML), exit 1, and the other tokens of the push are not written either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_INPUT_BYTES } from '@picas/core';
import { fileLabel, freshDatabase, runCli } from '@picas/testkit';
import { getDoc, tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));

const limit = 'x'.repeat(MAX_INPUT_BYTES - 'echo '.length);
const dir = tempDir({
  'ok.txt': 'echo fine\n',
  'nul.txt': 'echo one\n# a comment\necho t\u0000wo\necho three\n',
  'nul.json': '[\n  {"input": "echo one"},\n  {"input": "echo t\\u0000wo", "priority": 1}\n]\n',
  'nul.yaml': '- input: echo one\n- input: "echo t\\0wo"\n',
  'big.txt': `echo small\necho ${'y'.repeat(MAX_INPUT_BYTES)}\n`,
  // multi-byte characters count as the bytes bash gets: 2 bytes each
  'big.jsonl': `{"input": "echo small"}\n{"input": "echo ${'é'.repeat(MAX_INPUT_BYTES / 2)}"}\n`,
  'limit.txt': `echo ${limit}\n`,
});

async function tokenIds(): Promise<string[]> {
  const body = await db.couch.http.expectOk<{ rows: Array<{ id: string }> }>({ path: db.couch.http.dbPath('/_all_docs') });
  return body.rows.map((r) => r.id).filter((id) => !id.startsWith('_design/'));
}

test('an input with a NUL byte is refused, naming the file, line and field; nothing is written', async () => {
  const cases: Array<[string[], RegExp]> = [
    // streamed (.txt) and parsed whole (.txt with --after, .json, .yaml)
    [['nul.txt'], /nul\.txt:3: the input holds a NUL byte \(character 7\), which no command can take/],
    [['nul.txt', '--after', 'some_token'], /nul\.txt:3: the input holds a NUL byte/],
    [['nul.json'], /nul\.json:3: field 'input' holds a NUL byte \(character 7\)/],
    [['nul.yaml'], /nul\.yaml:2: field 'input' holds a NUL byte/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['push', 'ok.txt', ...args], { env: db.env, cwd: dir });
    assert.equal(r.exitCode, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
  assert.deepEqual(await tokenIds(), [], 'the valid tokens of the same push are not written either');
});

test(`an input over ${MAX_INPUT_BYTES} bytes (MAX_INPUT_BYTES) is refused with its size; one at the limit is pushed`, async () => {
  const over = MAX_INPUT_BYTES + 'echo '.length;
  for (const [file, message] of [
    ['big.txt', new RegExp(`big\\.txt:2: the input is ${over.toLocaleString('en-US')} bytes, over the 1 MiB a token's input may have`)],
    ['big.jsonl', new RegExp(`big\\.jsonl:2: field 'input' is ${over.toLocaleString('en-US')} bytes, over the 1 MiB`)],
  ] as const) {
    const r = await runCli(['push', file], { env: db.env, cwd: dir });
    assert.equal(r.exitCode, 1, `${file}: ${r.stderr}`);
    assert.match(r.stderr, message, file);
  }
  assert.deepEqual(await tokenIds(), []);

  const atLimit = await runCli(['push', 'limit.txt'], { env: db.env, cwd: dir });
  assert.equal(atLimit.exitCode, 0, atLimit.stderr);
  assert.equal(atLimit.stdout.trim(), 'pushed 1 token, 0 already present');
  const [id] = await tokenIds();
  assert.equal(Buffer.byteLength((await getDoc(db.couch, id!)).input as string), MAX_INPUT_BYTES);
});
