/**
 * examples/fractals as its README tells it: build fractals.c with cc, write tokens with make-tokens.sh,
 * push them with `picas push`, run them with `picas launch local`. Each token leaves a valid PGM image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot, runCli, scratchDir } from '@picas/testkit';
import { tokenPool, tokensByState } from './token-pool.js';

const example = join(repoRoot, 'examples/fractals');

test('the fractals example builds with cc and its tokens run through picas-worker', async (t) => {
  const cc = await execa('cc', ['--version'], { reject: false });
  if (cc.exitCode !== 0) {
    // setup-slurm.sh installs gcc when cc is missing, so CI always has it
    if (process.env.PICAS_REQUIRE_SLURM === '1') assert.fail('cc not found: run sudo bash scripts/setup-slurm.sh (it installs gcc)');
    t.skip('cc not found: install a C compiler (apt-get install gcc) to run the fractals example test');
    return;
  }
  const dir = scratchDir('picas-fractals-');
  const bin = join(dir, 'fractals');
  await execa('cc', ['-O2', '-std=c99', '-Wall', '-Wextra', '-Werror', '-o', bin, join(example, 'fractals.c'), '-lm']);

  // bad arguments: exit 2 with a message naming the option
  const bad = await execa(bin, ['-o', join(dir, 'x.pgm'), '-s', 'big'], { reject: false });
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /-s SIZE must be a whole number/);

  const tokensFile = join(dir, 'fractals.txt');
  const made = await execa('bash', [join(example, 'make-tokens.sh'), '-n', '3', '-s', '40', '-i', '50', '-d', join(dir, 'output'), '-b', bin], { cwd: dir });
  const lines = made.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(lines.length, 3);
  writeFileSync(tokensFile, made.stdout + '\n');

  const db = await tokenPool(import.meta.url);
  const pushed = await runCli(['push', tokensFile], { env: db.env, cwd: dir });
  assert.equal(pushed.exitCode, 0, pushed.stderr);
  const run = await runCli(['launch', 'local', '-n', '2'], { env: db.env, cwd: dir });
  assert.equal(run.exitCode, 0, run.stderr);

  const states = await tokensByState(db.couch);
  assert.equal(states.done.length, 3, JSON.stringify(states));
  const images = readdirSync(join(dir, 'output')).sort();
  assert.deepEqual(images, ['julia_000.pgm', 'julia_001.pgm', 'julia_002.pgm']);
  for (const image of images) {
    const bytes = readFileSync(join(dir, 'output', image));
    const header = 'P5\n40 40\n255\n';
    assert.equal(bytes.subarray(0, header.length).toString('latin1'), header);
    assert.equal(bytes.length, header.length + 40 * 40);
  }
});
