import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { blocked, newToken, released, tokenState, unblocked, UsageError, type TokenDoc } from '@picas/core';
import { checkDependencyGraph, findCycle, withDependencyStates } from '@picas/core/dependency-graph';
import { decide } from '@picas/core/ops/release-dependents';
import { renderGraph } from '@picas/core/graph-render';
import { readTokenFiles } from '@picas/core/token-files';

const tok = (id: string, deps: string[] = []): TokenDoc => newToken(id, `echo ${id}`, deps.length ? { depends_on: deps } : {});

test('tokenState: waiting (lock -1, done 0) and blocked (the same with blocked_by); PiCaS errors stay other', () => {
  assert.equal(tokenState({ lock: -1, done: 0, exit_code: '' }), 'waiting');
  assert.equal(tokenState({ lock: -1, done: 0, exit_code: '', blocked_by: { id: 'a', reason: 'x' } }), 'blocked');
  assert.equal(tokenState({ lock: -1, done: -1, exit_code: '' }), 'other');
  const w = { ...tok('b', ['a']), lock: -1 };
  const b = blocked(w, 'a', 'dependency a failed', 1_000_000);
  assert.equal(tokenState(b), 'blocked');
  assert.deepEqual(b.blocked_by, { id: 'a', reason: 'dependency a failed', time: 1000 });
  assert.equal(b.events!.at(-1)!.event, 'blocked');
  const u = unblocked(b, 'dependency a was retried');
  assert.equal(tokenState(u), 'waiting');
  assert.equal(u.blocked_by, undefined);
  const r = released(u, 'dependency a is done');
  assert.equal(tokenState(r), 'todo');
  assert.equal(r.lock, 0);
});

test('findCycle names the cycle itself, from a token back to it', () => {
  assert.equal(findCycle([tok('a'), tok('b', ['a']), tok('c', ['a', 'b'])]), undefined);
  assert.deepEqual(findCycle([tok('x'), tok('a', ['c']), tok('b', ['a']), tok('c', ['b'])]), ['a', 'c', 'b', 'a']);
});

test('checkDependencyGraph: self-dependency, unknown id (also not in the database), cycle: one line each', () => {
  const none = new Map();
  assert.throws(() => checkDependencyGraph([tok('a', ['a'])], none), (e: Error) => e instanceof UsageError && /^token a depends on itself; nothing was pushed$/.test(e.message));
  assert.throws(() => checkDependencyGraph([tok('a'), tok('b', ['zz'])], none), /unknown token id in depends_on: zz \(needed by b\); nothing was pushed$/);
  assert.throws(() => checkDependencyGraph([tok('b', ['gone'])], new Map([['gone', { state: 'missing' }]])), /unknown token id/);
  assert.doesNotThrow(() => checkDependencyGraph([tok('b', ['old'])], new Map([['old', { state: 'done' }]])));
  assert.throws(() => checkDependencyGraph([tok('a', ['b']), tok('b', ['a'])], none), /dependency cycle: a -> b -> a; nothing was pushed$/);
});

test('withDependencyStates: first states and has_dependents', () => {
  const existing = new Map([
    ['old_done', { state: 'done' }],
    ['old_todo', { state: 'todo' }],
    ['old_err', { state: 'error' }],
  ]);
  const { docs, markExisting } = withDependencyStates([tok('a'), tok('b', ['a']), tok('c', ['old_done']), tok('d', ['old_todo', 'old_done']), tok('e', ['old_err'])], existing, 5_000);
  const by = new Map(docs.map((d) => [d._id, d]));
  assert.equal(tokenState(by.get('a')!), 'todo');
  assert.equal(by.get('a')!.has_dependents, true);
  assert.equal(tokenState(by.get('b')!), 'waiting');
  assert.equal(tokenState(by.get('c')!), 'todo', 'every dependency already done: todo at once');
  assert.equal(tokenState(by.get('d')!), 'waiting');
  assert.equal(tokenState(by.get('e')!), 'blocked');
  assert.equal(by.get('e')!.blocked_by!.id, 'old_err');
  assert.deepEqual(markExisting.sort(), ['old_err', 'old_todo']);
});

test('decide: release when all done, block on a failed, blocked or missing dependency (naming the root), else wait', () => {
  const nodes = new Map<string, { state: any; dependsOn: string[]; blockedBy?: string }>([
    ['p1', { state: 'done', dependsOn: [] }],
    ['p2', { state: 'done', dependsOn: [] }],
    ['run', { state: 'locked', dependsOn: [] }],
    ['bad', { state: 'error', dependsOn: [] }],
    ['blk', { state: 'blocked', dependsOn: [], blockedBy: 'root' }],
  ]);
  assert.equal(decide({ depends_on: ['p1', 'p2'] }, nodes).kind, 'release');
  assert.deepEqual(decide({ depends_on: ['p1', 'run'] }, nodes), { kind: 'wait' });
  assert.deepEqual(decide({ depends_on: ['run', 'bad'] }, nodes), { kind: 'block', root: 'bad', reason: 'dependency bad failed' });
  assert.deepEqual(decide({ depends_on: ['blk'] }, nodes), { kind: 'block', root: 'root', reason: 'dependency blk is blocked by root' });
  assert.equal(decide({ depends_on: ['nowhere'] }, nodes).kind, 'block');
});

test('renderGraph: dot and mermaid with states; summarized by state past max nodes', () => {
  const nodes = [
    { id: 'split', state: 'done', dependsOn: [] },
    { id: 'step "1"', state: 'todo', dependsOn: ['split'] },
    { id: 'merge', state: 'waiting', dependsOn: ['step "1"'] },
  ];
  const dot = renderGraph(nodes, { format: 'dot' });
  assert.match(dot, /^digraph picas \{/);
  assert.match(dot, /"split" -> "step \\"1\\"";/);
  assert.match(dot, /"merge" \[label="merge\\nwaiting"/);
  const mermaid = renderGraph(nodes, { format: 'mermaid' });
  assert.match(mermaid, /^flowchart LR\n/);
  assert.match(mermaid, /n1\["step #quot;1#quot;<br\/>todo"\]:::todo/);
  assert.match(mermaid, /n0 --> n1/);
  const many = Array.from({ length: 600 }, (_, i) => ({ id: `t${i}`, state: i === 0 ? 'done' : 'waiting', dependsOn: i === 0 ? [] : [`t${i - 1}`] }));
  const summary = renderGraph(many, { format: 'dot', maxNodes: 500 });
  assert.match(summary, /600 tokens, summarized by state/);
  assert.match(summary, /"waiting" \[label="waiting\\n599 tokens"/);
  assert.match(summary, /"done" -> "waiting" \[label="1"\];/);
  assert.match(summary, /"waiting" -> "waiting" \[label="598"\];/);
  assert.equal(summary.split('\n').filter((l) => l.includes('->')).length, 2);
});

test('token files: id and depends_on (a list or one id), --after for every token; bad depends_on named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'picas-deps-'));
  try {
    writeFileSync(join(dir, 'w.yaml'), '- id: a\n  input: echo a\n- id: b\n  depends_on: a\n  input: echo b\n- id: c\n  depends_on: [a, b, a]\n  input: echo c\n');
    const { docs } = readTokenFiles(['w.yaml'], { cwd: dir });
    assert.deepEqual(docs.map((d) => [d._id, d.depends_on]), [['a', undefined], ['b', ['a']], ['c', ['a', 'b']]]);
    assert.equal(docs[0]!.id, undefined, 'id is the document id, not a field');
    writeFileSync(join(dir, 'm.txt'), 'echo merge\n');
    const after = readTokenFiles(['m.txt'], { cwd: dir, after: ['s1', 's2'] });
    assert.deepEqual(after.docs[0]!.depends_on, ['s1', 's2']);
    writeFileSync(join(dir, 'bad.jsonl'), '{"id":"x","input":"x","depends_on":[1]}\n');
    assert.throws(() => readTokenFiles(['bad.jsonl'], { cwd: dir }), /bad\.jsonl:1: field 'depends_on' must be a list of token ids/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
