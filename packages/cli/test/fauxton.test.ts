/**
 * A real browser (Debian's headless Chromium, driven by playwright-core) opens the embedded server's
 * Fauxton, logs in as the admin `picas server` created, opens the tokens database and sees the tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '@picas/testkit';
import { tempDir } from './fixtures.js';
import { browserSkip, launchChromium } from './headless-chromium.js';
import { startServerProcess } from './server-process.js';

const skip = browserSkip('fauxton.test');

test('Fauxton at /_utils shows the pushed tokens after logging in', { skip }, async () => {
  const dir = tempDir({ 'tokens.txt': 'echo fauxton one\necho fauxton two\n' });
  const server = await startServerProcess(['--port', '0', '--in-memory'], { cwd: dir });
  const bare = (...args: string[]) => runCli(args, { cwd: dir, env: {} });
  assert.equal((await bare('init')).exitCode, 0);
  assert.equal((await bare('push', 'tokens.txt')).exitCode, 0);
  const ids = (JSON.parse((await bare('list', '--json')).stdout) as Array<{ _id: string }>).map((d) => d._id);
  assert.equal(ids.length, 2);
  const state = JSON.parse(readFileSync(join(dir, '.picas', 'server.json'), 'utf8')) as { username: string; password: string };

  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    const allDocs = `${server.fauxtonUrl}#/database/picas/_all_docs`;
    await page.goto(allDocs);
    const username = page.getByPlaceholder('Username');
    const firstToken = page.getByText(ids[0]!, { exact: false });
    await username.or(firstToken).first().waitFor();
    if (await username.isVisible()) {
      // the "Log In to CouchDB" form: the server has an admin, as real CouchDB does
      await username.fill(state.username);
      await page.getByPlaceholder('Password').fill(state.password);
      await page.getByRole('button', { name: 'Log In' }).click();
      await page.getByText('You have been logged in').first().waitFor();
      await page.goto(allDocs);
    }
    for (const id of ids) await page.getByText(id, { exact: false }).first().waitFor();
    const text = await page.locator('body').innerText();
    for (const id of ids) assert.ok(text.includes(id), `Fauxton shows ${id}`);
    assert.ok(!text.includes(state.password), 'the password is not shown');
  } finally {
    await browser.close();
    await server.stop();
  }
});
