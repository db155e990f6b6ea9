/**
 * The library's declarations, as a user's strict TypeScript project sees them: consumer/consumer.ts imports
 * `picas` (mapped to the built declarations), uses every export, and has @ts-expect-error lines that only
 * pass if the types reject what they must; `tsc --noEmit` on it must report nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '@picas/testkit';

test('a strict consumer project type-checks against the declarations (tsc --noEmit)', { timeout: 120_000 }, async () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = await execa(process.execPath, [tsc, '-p', join(repoRoot, 'packages/library/consumer')], { reject: false, cwd: repoRoot });
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
});
