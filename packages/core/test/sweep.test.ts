import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv } from '../src/csv-rows.js';
import { buildSweep, pointHash, sweepPoints, sweepToken, type SweepDefinition } from '../src/sweep.js';
import { sweepTokenSource } from '../src/sweep-source.js';
import { fillTemplate, parseTemplate, shellQuote, type Template } from '../src/sweep-template.js';
import { parseValues, type ValueList } from '../src/sweep-values.js';
import { UsageError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'picas-sweep-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const all = (v: ValueList) => Array.from({ length: v.count }, (_, i) => v.at(i));
const values = (text: string) => {
  const r = parseValues(text, '--param x');
  if ('problem' in r) throw new Error(r.problem);
  return all(r.values);
};
const problem = (text: string) => {
  const r = parseValues(text, '--param x');
  return 'problem' in r ? r.problem : undefined;
};

test('ranges are inclusive and exact for decimals, as seq prints them', () => {
  assert.deepEqual(values('0.1:0.3:0.1'), ['0.1', '0.2', '0.3']);
  assert.deepEqual(values('0:1:0.25'), ['0.00', '0.25', '0.50', '0.75', '1.00']);
  assert.deepEqual(values('1:2:0.5'), ['1.0', '1.5', '2.0']);
  assert.deepEqual(values('10:1:-3'), ['10', '7', '4', '1']);
  assert.deepEqual(values('-0.3:0.3:0.15'), ['-0.30', '-0.15', '0.00', '0.15', '0.30']);
  assert.deepEqual(values('1:10:4'), ['1', '5', '9']);
  // no float drift over many steps: 0.1 * 1000 points
  const long = values('0:100:0.1');
  assert.equal(long.length, 1001);
  assert.equal(long[3], '0.3');
  assert.equal(long[1000], '100.0');
  // a million points take no memory: computed by position
  const big = parseValues('1:1000000:1', 'x');
  assert.ok('values' in big && big.values.count === 1_000_000 && big.values.at(999_999) === '1000000');
  assert.match(problem('0.1:0.3:0')!, /the step is 0/);
  assert.match(problem('3:1:1')!, /is empty/);
  assert.match(problem('a:3:1')!, /the start 'a' is not a decimal number/);
});

test('comma lists and @files: every value once', () => {
  assert.deepEqual(values('256,1024'), ['256', '1024']);
  assert.deepEqual(values('a b'), ['a b']);
  assert.match(problem('1,,2')!, /an empty value/);
  assert.match(problem('1,2,1')!, /the value '1' is given twice/);
  writeFileSync(join(dir, 'seeds.txt'), '7\r\n\n8\n9');
  assert.deepEqual(values(`@${join(dir, 'seeds.txt')}`), ['7', '8', '9']);
  assert.match(problem('@/nonexistent/seeds.txt')!, /--param x: @\/nonexistent\/seeds.txt: no such file/);
});

test('the CSV reader follows RFC 4180: quotes, doubled quotes, line breaks in fields, CRLF, a BOM', () => {
  const r = parseCsv('p.csv', '\uFEFFa,b\r\n"x, y","say ""hi"""\r\n\r\n"two\nlines",\nplain,""\n');
  assert.ok('table' in r, JSON.stringify(r));
  assert.deepEqual(r.table.header, ['a', 'b']);
  assert.deepEqual(r.table.rows, [['x, y', 'say "hi"'], ['two\nlines', ''], ['plain', '']]);
  assert.deepEqual(r.table.lines, [2, 4, 6]);
  const bad = (text: string) => (parseCsv('p.csv', text) as { problem: string }).problem;
  assert.match(bad('a,b\n"open,1\n'), /p\.csv:2: a quoted field is never closed/);
  assert.match(bad('a,b\n1,2\n1,2,3\n'), /p\.csv:3: 3 fields, but the header has 2/);
  assert.match(bad('a,b\n1"2,3\n'), /p\.csv:2: a quote inside an unquoted field/);
  assert.match(bad('a,b\n'), /no rows after the header/);
});

test('placeholders are shell-quoted unless :raw; ${VAR}, {{ }} and brace expansions stay the shell\'s', () => {
  const t = (parseTemplate('run {q} --label {label} --out {dir:raw}/x ${HOME} {a,b} {{q}}') as { template: Template }).template;
  assert.deepEqual(t.names, ['q', 'label', 'dir']);
  const filled = fillTemplate(t, (n) => ({ q: '0.1', label: "it's a \"b\" $x", dir: 'out dir' })[n]!);
  assert.equal(filled, `run 0.1 --label 'it'\\''s a "b" $x' --out out dir/x \${HOME} {a,b} {q}`);
  // what bash makes of the quoted values: the values themselves
  for (const value of ["it's", 'a "b"', '$HOME', '', 'tab\there', 'new\nline', '*', '\\']) {
    assert.equal(execFileSync('bash', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' }), value);
  }
  assert.match((parseTemplate('x {q:quoted}') as { problem: string }).problem, /the only modifier is ':raw'/);
  assert.match((parseTemplate('echo hi') as { problem: string }).problem, /no placeholders/);
});

const definition = (over: Partial<SweepDefinition> = {}): SweepDefinition => ({
  template: 'sim --q {q} --d {d} --s {s} --t {t}',
  name: 'grid',
  params: [
    { name: 'q', values: '0.1:0.3:0.1', where: '--param q' },
    { name: 'd', values: '256,1024', where: '--param d' },
  ],
  zip: [
    { name: 's', values: '1,2,3', where: '--zip s' },
    { name: 't', values: 'x,y,z', where: '--zip t' },
  ],
  ...over,
});

test('points are the product (first parameter outermost) times the zip walked side by side', () => {
  const sweep = buildSweep(definition());
  assert.equal(sweep.count, 18);
  const points = [...sweepPoints(sweep)];
  assert.equal(points.length, 18);
  assert.deepEqual(points.slice(0, 4), [
    ['0.1', '256', '1', 'x'],
    ['0.1', '256', '2', 'y'],
    ['0.1', '256', '3', 'z'],
    ['0.1', '1024', '1', 'x'],
  ]);
  assert.deepEqual(points.at(-1), ['0.3', '1024', '3', 'z']);
});

test('ids come from the sweep name and the parameters: stable, order-free, and an extended range adds only new ids', () => {
  const sweep = buildSweep(definition());
  const ids = [...sweepPoints(sweep)].map((v) => sweepToken(sweep, v).id);
  assert.equal(new Set(ids).size, 18);
  assert.ok(ids.every((id) => /^grid_[0-9a-f]{16}$/.test(id)));
  assert.deepEqual([...sweepPoints(buildSweep(definition()))].map((v) => sweepToken(sweep, v).id), ids);
  assert.equal(pointHash(['a', 'b'], ['1', '2']), pointHash(['b', 'a'], ['2', '1']));
  const extended = buildSweep(definition({ params: [{ name: 'q', values: '0.1:0.4:0.1', where: '--param q' }, { name: 'd', values: '256,1024', where: '--param d' }] }));
  const more = [...sweepPoints(extended)].map((v) => sweepToken(extended, v).id);
  assert.equal(more.length, 24);
  assert.equal(more.filter((id) => !ids.includes(id)).length, 6);
  const renamed = buildSweep(definition({ name: 'other' }));
  assert.ok(sweepToken(renamed, [...sweepPoints(renamed)][0]!).id.startsWith('other_'));
});

test('the encoded documents are exactly the documents', async () => {
  const source = sweepTokenSource(buildSweep(definition({ fields: { priority: 3, resources: { cpus: 2, gpus: 0, mem: 0 } } })), { now: 1_700_000_000 });
  const docs = [];
  for await (const batch of source.batches(5)) docs.push(...batch);
  const encoded = [];
  for await (const batch of source.encodedBatches(7)) for (let i = 0; i < batch.ids.length; i++) encoded.push(JSON.parse(batch.doc(i)));
  assert.equal(docs.length, 18);
  assert.deepEqual(encoded, docs);
  assert.deepEqual(docs[0]!.params, { q: '0.1', d: '256', s: '1', t: 'x' });
  assert.equal(docs[0]!.input, 'sim --q 0.1 --d 256 --s 1 --t x');
  assert.equal(docs[0]!.priority, 3);
});

test('every problem is listed at once, naming the parameter or file', () => {
  const problems = (over: Partial<SweepDefinition>) => {
    try {
      buildSweep(definition(over));
    } catch (err) {
      assert.ok(err instanceof UsageError);
      return err.problems.join('\n');
    }
    return '';
  };
  assert.match(problems({ zip: [{ name: 's', values: '1,2,3', where: '--zip s' }, { name: 't', values: 'x,y', where: '--zip t' }] }), /--zip s has 3 values but --zip t has 2/);
  assert.match(problems({ template: 'sim {q} {d} {s} {t} {w}' }), /placeholder \{w\} has no value/);
  assert.match(problems({ template: 'sim {q} {d} {s}' }), /--zip t: the template has no placeholder \{t\}/);
  assert.match(problems({ zip: [{ name: 's', values: '1,1', where: '--zip s' }, { name: 't', values: 'x,x', where: '--zip t' }] }), /point 2 repeats an earlier one/);
  assert.match(problems({ params: [{ name: 'q', values: '1', where: '--param q' }, { name: 'Q', values: '1', where: '--param Q' }, { name: 'd', values: '1', where: '--param d' }] }), /--param Q: parameter 'Q' is also given by --param q/);
  assert.match(problems({ name: '_bad' }), /--name: '_bad' is not a usable sweep name/);
});
