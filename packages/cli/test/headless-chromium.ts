/**
 * Debian's headless Chromium for the browser tests, driven by playwright-core. Without it those tests skip
 * and say how to enable them; with PICAS_REQUIRE_BROWSER=1 (CI) they fail instead.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { repoRoot } from '@picas/testkit';

export const CHROMIUM = '/usr/bin/chromium';

/** Where the browser tests' screenshots go (test artifacts): PICAS_TEST_ARTIFACTS, else test-artifacts/ in the checkout. */
export const artifacts = process.env.PICAS_TEST_ARTIFACTS ?? join(repoRoot, 'test-artifacts');
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The `skip` option of a browser test (false when Chromium is there or required), said once on stderr. */
export function browserSkip(testName: string): string | false {
  const missing = !existsSync(CHROMIUM);
  const required = process.env.PICAS_REQUIRE_BROWSER === '1';
  const skip = missing && !required ? `${CHROMIUM} is missing: apt-get install chromium enables this browser test` : false;
  if (skip) process.stderr.write(`${testName}: SKIPPED: ${skip}\n`);
  return skip;
}

/** Launches headless Chromium; fails (not skips) when it is missing, since the test was not skipped. */
export async function launchChromium(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing and PICAS_REQUIRE_BROWSER=1: apt-get install chromium`);
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 60_000 });
}
