import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLAIM_DESIGN } from '../src/design-docs.js';
import { checkResources, formatSize, parseSize, SHAPE_JS, shapeLabel, tokenNeeds } from '../src/resources.js';
import { parseTokenFile, tokenDocs } from '../src/token-files.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

test('sizes: bytes, or binary K/M/G/T suffixes; anything else is not a size', () => {
  assert.equal(parseSize(1000), 1000);
  assert.equal(parseSize('1000'), 1000);
  assert.equal(parseSize('512M'), 512 * 1024 ** 2);
  assert.equal(parseSize('16G'), 16 * 1024 ** 3);
  assert.equal(parseSize('16gb'), 16 * 1024 ** 3);
  assert.equal(parseSize('16GiB'), 16 * 1024 ** 3);
  assert.equal(parseSize('1.5K'), 1536);
  assert.equal(parseSize('2T'), 2 * 1024 ** 4);
  for (const bad of ['12Q', '-1', '', 'G', '1.5.2G', -5, 1.5, null, {}]) assert.equal(parseSize(bad), undefined, JSON.stringify(bad));
  assert.equal(formatSize(16 * 1024 ** 3), '16G');
  assert.equal(formatSize(1536), '1.5K');
  assert.equal(formatSize(100), '100B');
});

test('resources are checked field by field, naming the field and the value', () => {
  assert.deepEqual(checkResources({ cpus: 4, gpus: 1, mem: '16G' }), { resources: { cpus: 4, gpus: 1, mem: 16 * 1024 ** 3 }, problems: [] });
  assert.deepEqual(checkResources({}).resources, { cpus: 1, gpus: 0, mem: 0 });
  assert.deepEqual(checkResources({ cpus: -1, mem: '12Q', disks: 2 }).problems, [
    'resources.disks: unknown (use cpus, gpus, mem)',
    'resources.cpus: -1 must be a whole number of at least 1',
    'resources.mem: "12Q" must be bytes or a size like 512M, 16G (K, M, G, T)',
  ]);
  assert.match(checkResources(4).problems[0]!, /must be an object/);
});

test('token files: resources in JSON, JSONL and YAML, stored as numbers; problems name file, line and field', () => {
  const json = parseTokenFile('t.json', utf8('[\n  {"input": "a", "resources": {"cpus": 8, "gpus": 1, "mem": "16G"}}\n]\n'));
  const jsonl = parseTokenFile('t.jsonl', utf8('{"input": "a", "resources": {"cpus": 8, "gpus": 1, "mem": "16G"}}\n'));
  const yaml = parseTokenFile('t.yaml', utf8('- input: a\n  resources: {cpus: 8, gpus: 1, mem: 16G}\n'));
  for (const parsed of [json, jsonl, yaml]) {
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.tokens[0]!.fields.resources, { cpus: 8, gpus: 1, mem: 16 * 1024 ** 3 });
  }
  const bad = parseTokenFile('bad.yaml', utf8('- input: a\n- input: b\n  resources:\n    cpus: -1\n    mem: 12Q\n'));
  assert.deepEqual(bad.problems, ["bad.yaml:2: field resources.cpus: -1 must be a whole number of at least 1", 'bad.yaml:2: field resources.mem: "12Q" must be bytes or a size like 512M, 16G (K, M, G, T)']);
});

test('push flags give resources to the tokens that have none of their own', () => {
  const parsed = parseTokenFile('t.jsonl', utf8('{"input": "a"}\n{"input": "b", "resources": {"cpus": 2}}\n'));
  const docs = tokenDocs(parsed.tokens, { resources: { cpus: 4, gpus: 1, mem: 0 } });
  assert.deepEqual(docs.map((d) => d.resources), [{ cpus: 4, gpus: 1, mem: 0 }, { cpus: 2, gpus: 0, mem: 0 }]);
});

test("the views' shape function agrees with tokenNeeds, and the default shape stays in todo_by_priority", () => {
  const viewShape = new Function(`${SHAPE_JS}; return tokenShape;`)() as (doc: unknown) => number[] | null;
  const docs = [{}, { resources: null }, { resources: { cpus: 1 } }, { resources: { cpus: 4 } }, { resources: { cpus: 1, gpus: 1 } }, { resources: { cpus: 2, mem: 1024 } }, { resources: { cpus: -3, gpus: 'x' } }, { resources: { cpus: 0 } }, { resources: 'big' }];
  for (const doc of docs) {
    const needs = tokenNeeds(doc);
    const shape = viewShape(doc);
    if (shape === null) assert.deepEqual(needs, { cpus: 1, gpus: 0, mem: 0 }, JSON.stringify(doc));
    else assert.deepEqual(shape, [needs.cpus, needs.gpus, needs.mem], JSON.stringify(doc));
  }
  assert.match(CLAIM_DESIGN.views.todo_by_priority!.map, /!tokenShape\(doc\)/);
  assert.equal(CLAIM_DESIGN.views.todo_by_shape!.reduce, '_count');
  assert.equal(shapeLabel({ cpus: 8, gpus: 1, mem: 0 }), '8 cpu + 1 gpu');
  assert.equal(shapeLabel({ cpus: 2, gpus: 0, mem: 16 * 1024 ** 3 }), '2 cpu + 16G mem');
});
