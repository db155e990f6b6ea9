/**
 * Parameter sweeps end to end (docs/sweeps.md): `picas push --template ... --param ... --zip ... --rows ...`
 * gives exactly the expected inputs, quoting included; a second push adds nothing; a sweep file gives the
 * same tokens; every mistake is one line naming the parameter or file, exit 1, nothing written; a pilot
 * drains the sweep with PICAS_PARAM_<NAME> set; `picas results --extract` and `picas status --by` read it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileLabel, freshDatabase, runCli, runWorker } from '@picas/testkit';
import { getDoc, tempDir } from './fixtures.js';

const db = await freshDatabase(fileLabel(import.meta.url));

const TEMPLATE = 'echo energy {q} {d} label={label} n={n:raw} s={s} t={t}; echo "env=$PICAS_PARAM_LABEL"';
const dir = tempDir({
  // RFC 4180: a quote in a quoted field is doubled; a comma inside quotes is no separator
  'rows.csv': 'label,n\r\n"it\'s here",1\r\n"a ""b"", c",2\r\n',
  'sweep.yaml': [
    'sweep:',
    '  name: grid',
    `  template: '${TEMPLATE}'`,
    '  params:',
    '    q: 0.1:0.3:0.1',
    '    d: [256, 1024]',
    '  zip:',
    '    s: 1,2,3',
    '    t: [x, y, z]',
    '  rows: rows.csv',
    '',
  ].join('\n'),
  'seeds.txt': '1\n2\n3\n',
  'plain.txt': 'echo one\necho two\n',
  'open.csv': 'label,n\n"never closed,1\n',
  'wide.csv': 'label,n\na,1\nb,2,3\n',
  'bad-sweep.yaml': 'sweep:\n  template: echo {q}\n  params: [1, 2]\n',
});

const SWEEP = ['--name', 'grid', '--template', TEMPLATE, '--param', 'q=0.1:0.3:0.1', '--param', 'd=256,1024', '--zip', 's=@seeds.txt', '--zip', 't=x,y,z', '--rows', 'rows.csv'];

/** The inputs the sweep must give: rows × q × d × zip(s, t), labels shell-quoted, n raw. */
function expectedInputs(qs: readonly string[]): string[] {
  const out: string[] = [];
  for (const [label, n] of [["'it'\\''s here'", '1'], [`'a "b", c'`, '2']]) {
    for (const q of qs) for (const d of ['256', '1024']) for (const [s, t] of [['1', 'x'], ['2', 'y'], ['3', 'z']]) {
      out.push(`echo energy ${q} ${d} label=${label} n=${n} s=${s} t=${t}; echo "env=$PICAS_PARAM_LABEL"`);
    }
  }
  return out;
}

async function tokens(): Promise<Array<Record<string, any>>> {
  const body = await db.couch.http.expectOk<{ rows: Array<{ id: string; doc: Record<string, any> }> }>({ path: db.couch.http.dbPath('/_all_docs?include_docs=true') });
  return body.rows.filter((r) => !r.id.startsWith('_design/')).map((r) => r.doc);
}

test('every mistake is one line naming the parameter or file, exit 1, and nothing is written', async () => {
  assert.equal((await runCli(['init'], { env: db.env })).exitCode, 0);
  const cases: Array<[string[], RegExp]> = [
    [[...SWEEP.map((a) => (a === 's=@seeds.txt' ? 's=1,2' : a))], /--zip t has 3 values but --zip s has 2/],
    [[...SWEEP.slice(0, 3), `${TEMPLATE} {w}`, ...SWEEP.slice(4)], /placeholder \{w\} has no value/],
    [[...SWEEP, '--param', 'extra=1,2'], /--param extra: the template has no placeholder \{extra\}/],
    [[...SWEEP.map((a) => (a === 'q=0.1:0.3:0.1' ? 'q=0.1:0.3:0' : a))], /--param q: range '0\.1:0\.3:0': the step is 0/],
    [[...SWEEP.map((a) => (a === 'd=256,1024' ? 'd=256,256' : a))], /--param d: the value '256' is given twice/],
    [[...SWEEP.map((a) => (a === 's=@seeds.txt' ? 's=@nope.txt' : a))], /--zip s: @nope\.txt: no such file/],
    [[...SWEEP.map((a) => (a === 'rows.csv' ? 'open.csv' : a))], /--rows open\.csv:2: a quoted field is never closed/],
    [[...SWEEP.map((a) => (a === 'rows.csv' ? 'wide.csv' : a))], /--rows wide\.csv:3: 3 fields, but the header has 2/],
    [['bad-sweep.yaml'], /bad-sweep\.yaml:3: sweep\.params: must be a mapping/],
    [['--param', 'q=1'], /--param need --template/],
    [[...SWEEP, '--prefix', 'run2'], /--prefix: a sweep's id prefix is its name/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['push', ...args], { env: db.env, cwd: dir });
    assert.equal(r.exitCode, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const dry = await runCli(['push', ...SWEEP, '--dry-run'], { env: db.env, cwd: dir });
  assert.equal(dry.exitCode, 0, dry.stderr);
  assert.match(dry.stdout, /^sweep grid: 36 tokens \(2 rows × 3 q × 2 d × 3 zipped \(s, t\)\); dry run, nothing written/);
  assert.ok(dry.stdout.includes(`grid_`) && dry.stdout.includes("label='it'\\''s here'"), dry.stdout);
  assert.match(dry.stdout, /\.\.\. and 26 more/);
  const plain = await runCli(['push', 'plain.txt', '--dry-run'], { env: db.env, cwd: dir });
  assert.equal(plain.exitCode, 0, plain.stderr);
  assert.match(plain.stdout, /^2 tokens; dry run, nothing written\nID +INPUT\ntoken_[0-9a-f]{16} +echo one\n/);
  assert.deepEqual(await tokens(), [], 'nothing is written');
});

test('a 3 × 2 × zip(3) sweep with 2 CSV rows gives exactly the expected inputs; pushing again adds nothing', async () => {
  const first = await runCli(['push', ...SWEEP], { env: db.env, cwd: dir });
  assert.equal(first.exitCode, 0, first.stderr);
  assert.equal(first.stdout.trim(), 'pushed 36 tokens, 0 already present');
  const docs = await tokens();
  assert.deepEqual(docs.map((d) => d.input).sort(), expectedInputs(['0.1', '0.2', '0.3']).sort());
  for (const doc of docs) {
    // a plain PiCaS token: Python PiCaS claims and runs it as any other
    assert.match(doc._id, /^grid_[0-9a-f]{16}$/);
    assert.equal(doc.type, 'token');
    assert.equal(doc.lock, 0);
    assert.equal(doc.done, 0);
    assert.equal(doc.exit_code, '');
    assert.equal(typeof doc.input, 'string');
    assert.deepEqual(Object.keys(doc.params), ['label', 'n', 'q', 'd', 's', 't']);
  }
  const one = docs.find((d) => d.params.q === '0.2' && d.params.d === '1024' && d.params.s === '3' && d.params.n === '2')!;
  assert.deepEqual(one.params, { label: 'a "b", c', n: '2', q: '0.2', d: '1024', s: '3', t: 'z' });

  const again = await runCli(['push', ...SWEEP], { env: db.env, cwd: dir });
  assert.equal(again.stdout.trim(), 'pushed 0 tokens, 36 already present');
  // the sweep file is the same sweep: the same ids
  const file = await runCli(['push', 'sweep.yaml'], { env: db.env, cwd: dir });
  assert.equal(file.exitCode, 0, file.stderr);
  assert.equal(file.stdout.trim(), 'pushed 0 tokens, 36 already present');
  // a longer range adds only its new points
  const extended = await runCli(['push', ...SWEEP.map((a) => (a === 'q=0.1:0.3:0.1' ? 'q=0.1:0.4:0.1' : a))], { env: db.env, cwd: dir });
  assert.equal(extended.stdout.trim(), 'pushed 12 tokens, 36 already present');
  const all = await tokens();
  assert.deepEqual(all.map((d) => d.input).sort(), expectedInputs(['0.1', '0.2', '0.3', '0.4']).sort());
  assert.ok(docs.every((d) => all.some((a) => a._id === d._id)));
});

test('a pilot drains the sweep with PICAS_PARAM_<NAME> set; results --extract and status --by read it back', async () => {
  const pilot = await runWorker(['--worker-id', 'sweep-pilot'], { env: db.env });
  assert.equal(pilot.exitCode, 0, pilot.stderr);

  const all = await tokens();
  const one = all.find((d) => d.params.label === "it's here")!;
  const log = await runCli(['logs', one._id], { env: db.env });
  assert.equal(log.stdout, `energy ${one.params.q} ${one.params.d} label=it's here n=1 s=${one.params.s} t=${one.params.t}\nenv=it's here`);

  const csv = await runCli(['results', '--format', 'csv', '--param', 'q,d', '--extract', 'energy (\\S+)'], { env: db.env });
  assert.equal(csv.exitCode, 0, csv.stderr);
  const lines = csv.stdout.trimEnd().split('\r\n');
  assert.equal(lines[0], 'id,q,d,state,exit_code,run_seconds,host,attempts,value');
  assert.equal(lines.length, 49);
  for (const line of lines.slice(1)) {
    const [id, q, d, state, exit, seconds, host, attempts, value] = line.split(',');
    assert.match(id!, /^grid_/);
    assert.equal(state, 'done');
    assert.equal(exit, '0');
    assert.ok(Number(seconds) >= 0);
    assert.ok(host);
    assert.equal(attempts, '1');
    assert.equal(value, q, line);
    assert.ok(['256', '1024'].includes(d!));
  }
  const table = await runCli(['results', '--state', 'done', '--extract', 'energy (\\S+) (\\S+)'], { env: db.env });
  assert.equal(table.exitCode, 0, table.stderr);
  const [head, ...rows] = table.stdout.trimEnd().split('\n');
  assert.match(head!, /^ID\s+LABEL\s+N\s+Q\s+D\s+S\s+T\s+STATE\s+EXIT_CODE\s+RUN_SECONDS\s+HOST\s+ATTEMPTS\s+VALUE$/);
  assert.equal(rows.length, 48);
  const jsonl = await runCli(['results', '--format', 'jsonl', '--state', 'error'], { env: db.env });
  assert.equal(jsonl.stdout, '');
  assert.match(jsonl.stderr, /no error tokens/);

  const by = await runCli(['status', '--by', 'q'], { env: db.env });
  assert.equal(by.exitCode, 0, by.stderr);
  const byRows = by.stdout.trimEnd().split('\n').map((l) => l.trim().split(/\s+/));
  assert.deepEqual(byRows, [
    ['q', 'todo', 'locked', 'done', 'error', 'total'],
    ['0.1', '0', '0', '12', '0', '12'],
    ['0.2', '0', '0', '12', '0', '12'],
    ['0.3', '0', '0', '12', '0', '12'],
    ['0.4', '0', '0', '12', '0', '12'],
  ]);
  const json = await runCli(['status', '--by', 'label', '--json'], { env: db.env });
  assert.deepEqual(JSON.parse(json.stdout).values.map((v: { value: string; done: number }) => [v.value, v.done]), [['a "b", c', 24], ["it's here", 24]]);
  void getDoc;
});
