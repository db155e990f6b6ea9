import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../src/errors.js';
import { arrayElementOffsets, findJsonSyntaxError, positionAt } from '../src/json-syntax.js';
import { parseTokenFile, readTokenFiles, tokenDocs } from '../src/token-files.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

test('.txt: one token per non-empty line, # lines skipped, CRLF tolerated', () => {
  const parsed = parseTokenFile('t.txt', utf8("# header\necho 'a'\r\n\n   \n  # indented comment\nsleep 1\n"));
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(
    parsed.tokens.map((t) => [t.input, t.line]),
    [["echo 'a'", 2], ['sleep 1', 6]],
  );
});

test('.json, .jsonl and .yaml give the same tokens, with their line numbers and extra fields', () => {
  const json = parseTokenFile('t.json', utf8('[\n  {"input": "a", "priority": 2},\n\n  {"input": {"x": 1}, "_id": "mine", "expected_seconds": 5}\n]\n'));
  const jsonl = parseTokenFile('t.jsonl', utf8('{"input": "a", "priority": 2}\n\n{"input": {"x": 1}, "_id": "mine", "expected_seconds": 5}\n'));
  const yaml = parseTokenFile('t.yaml', utf8('# tokens\n- input: a\n  priority: 2\n- input: {x: 1}\n  _id: mine\n  expected_seconds: 5\n'));
  for (const parsed of [json, jsonl, yaml]) {
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.tokens.map((t) => ({ input: t.input, id: t.id, fields: t.fields })), [
      { input: 'a', id: undefined, fields: { priority: 2 } },
      { input: { x: 1 }, id: 'mine', fields: { expected_seconds: 5 } },
    ]);
  }
  assert.deepEqual(json.tokens.map((t) => t.line), [2, 4]);
  assert.deepEqual(jsonl.tokens.map((t) => t.line), [1, 3]);
  assert.deepEqual(yaml.tokens.map((t) => t.line), [2, 4]);
});

test('every validation problem names the file, the line and the field', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['bad.json', '[\n {"input": "a"},\n {"input": }\n]', /^bad\.json:3:12: invalid JSON: unexpected '}'/],
    ['bad.json', '[{"input": "a"}', /^bad\.json:1:16: invalid JSON: unexpected end of input/],
    ['obj.json', '\n{"input": "a"}', /^obj\.json:2: expected a JSON array/],
    ['bad.jsonl', '{"input": "a"}\n{"input": "b",}\n', /^bad\.jsonl:2:15: invalid JSON: unexpected '}'/],
    ['bad.yaml', '- input: a\n- input: [unclosed\n', /^bad\.yaml:\d+: invalid YAML: /],
    ['map.yaml', 'input: a\n', /^map\.yaml:1: expected a YAML list/],
    ['noinput.json', '[{"input": "a"},\n {"cmd": "b"}]', /^noinput\.json:2: the token has no 'input' field$/],
    ['under.yaml', '- input: a\n- input: b\n  _rev: 1-abc\n', /^under\.yaml:2: field '_rev': names starting with '_' are reserved/],
    ['under.jsonl', '{"input": "a", "_id": "_design/x"}', /^under\.jsonl:1: field '_id' '_design\/x' starts with '_'/],
    ['state.jsonl', '{"input": "a", "lock": 1700000000}', /^state\.jsonl:1: field 'lock' is managed by picas/],
    ['prio.jsonl', '{"input": "a", "priority": "high"}', /^prio\.jsonl:1: field 'priority' must be a number/],
    ['str.json', '["echo a"]', /^str\.json:1: expected a token object with an 'input' field, got a string/],
    ['empty.txt', '', /^empty\.txt: the file is empty$/],
    ['blank.json', '  \n\n', /^blank\.json: the file is empty$/],
    ['comments.txt', '# nothing\n\n# here\n', /^comments\.txt: no tokens in the file/],
    ['empty.json', '[]', /^empty\.json: no tokens in the file/],
    ['tokens.csv', 'a,b', /^tokens\.csv: unknown token file type '\.csv'/],
  ];
  for (const [name, text, expected] of cases) {
    const parsed = parseTokenFile(name, utf8(text));
    assert.equal(parsed.tokens.length === 0 || parsed.problems.length > 0, true, name);
    assert.equal(parsed.problems.length >= 1, true, `${name}: expected a problem`);
    assert.match(parsed.problems[0]!, expected, name);
  }
});

test('a non-UTF-8 file is refused, naming the line', () => {
  const latin1 = Uint8Array.from([...utf8('echo a\necho caf'), 0xe9, ...utf8('\n')]);
  const parsed = parseTokenFile('latin1.txt', latin1);
  assert.deepEqual(parsed.problems, ['latin1.txt:2: not valid UTF-8 text (save the file as UTF-8)']);
  const utf16 = Uint8Array.from([0xff, 0xfe, 0x61, 0x00]);
  assert.match(parseTokenFile('utf16.txt', utf16).problems[0]!, /^utf16\.txt:1: not valid UTF-8/);
});

test('ids are content hashes: stable, distinct per content, repeated lines kept apart, explicit _id wins', () => {
  const specs = parseTokenFile('t.txt', utf8('echo a\necho b\necho a\n')).tokens;
  const first = tokenDocs(specs, { now: 100 });
  const again = tokenDocs(parseTokenFile('t.txt', utf8('echo a\necho b\necho a\n')).tokens, { now: 200 });
  assert.deepEqual(first.map((d) => d._id), again.map((d) => d._id));
  assert.match(first[0]!._id, /^token_[0-9a-f]{16}$/);
  assert.notEqual(first[0]!._id, first[1]!._id);
  assert.equal(first[2]!._id, `${first[0]!._id}_2`);
  assert.match(tokenDocs(specs, { prefix: 'run7' })[0]!._id, /^run7_[0-9a-f]{16}$/);
  const fresh = tokenDocs(specs, { forceNew: true });
  assert.notEqual(fresh[0]!._id, first[0]!._id);
  assert.equal(new Set(fresh.map((d) => d._id)).size, 3);
  // the fields count as content
  const withPriority = tokenDocs(parseTokenFile('p.jsonl', utf8('{"input": "echo a", "priority": 1}')).tokens);
  assert.notEqual(withPriority[0]!._id, first[0]!._id);
  const explicit = tokenDocs(parseTokenFile('e.jsonl', utf8('{"input": "x", "_id": "job-1"}')).tokens);
  assert.equal(explicit[0]!._id, 'job-1');
  assert.throws(() => tokenDocs(specs, { prefix: '_bad' }), UsageError);
});

test('token documents carry the PiCaS fields plus created and the file fields', () => {
  const [doc] = tokenDocs(parseTokenFile('t.yaml', utf8('- input: echo hi\n  priority: 5\n  expected_seconds: 30\n  dataset: d1\n')).tokens, { now: 1234 });
  assert.deepEqual(doc, {
    _id: doc!._id,
    type: 'token',
    lock: 0,
    done: 0,
    hostname: '',
    scrub_count: 0,
    input: 'echo hi',
    exit_code: '',
    output: {},
    error: [],
    created: 1234,
    priority: 5,
    expected_seconds: 30,
    dataset: 'd1',
  });
});

test('readTokenFiles reports every problem in every file at once, and duplicate explicit ids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'picas-token-files-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.jsonl'), '{"input": "a", "_id": "same"}\n{"nope": 1}\n');
  writeFileSync(join(dir, 'b.txt'), '');
  assert.throws(
    () => readTokenFiles(['a.jsonl', 'b.txt', 'missing.json'], { cwd: dir }),
    (err: UsageError) => {
      assert.ok(err instanceof UsageError);
      assert.deepEqual(err.problems, ["a.jsonl:2: the token has no 'input' field", 'b.txt: the file is empty', 'missing.json: no such file']);
      return true;
    },
  );
  writeFileSync(join(dir, 'c.jsonl'), '{"input": "a", "_id": "same"}\n{"input": "b", "_id": "same"}\n');
  assert.throws(() => readTokenFiles(['c.jsonl'], { cwd: dir }), /c\.jsonl:2: _id 'same' is already used at c\.jsonl:1/);
  writeFileSync(join(dir, 'd.txt'), 'echo d\n');
  writeFileSync(join(dir, 'e.txt'), 'echo d\necho d\n');
  const ok = readTokenFiles(['d.txt', 'e.txt', './d.txt'], { cwd: dir });
  assert.deepEqual(ok.perFile, [{ file: 'd.txt', tokens: 1 }, { file: 'e.txt', tokens: 2 }], 'a file given twice is read once');
  assert.equal(ok.docs[0]!._id, ok.docs[1]!._id, 'the same content in two files gets the same id');
  assert.equal(ok.docs[2]!._id, `${ok.docs[0]!._id}_2`);
  assert.throws(() => readTokenFiles([], { cwd: dir }), /no token files given/);
});

test('the JSON syntax locator finds the first error and array element starts', () => {
  assert.equal(findJsonSyntaxError('{"a": [1, 2, {"b": null}], "c": "\\u00e9"}'), undefined);
  const err = findJsonSyntaxError('{"a": tru}');
  assert.equal(err?.offset, 9);
  assert.deepEqual(positionAt('ab\ncd', 4), { line: 2, column: 2 });
  const text = '[ {"a": "[,]"},\n  2,\n  [3, 4] ]';
  assert.deepEqual(arrayElementOffsets(text).map((o) => text[o]), ['{', '2', '[']);
});
