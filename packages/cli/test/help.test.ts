/**
 * Help that reads the same everywhere: every command's help (subcommands too) is wrapped to the width,
 * lists the connection options, shows defaults one way (`default: 10s`, never milliseconds or quotes);
 * a typo in a command or an option is one "did you mean" line and a non-zero exit, not the whole help.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '@picas/testkit';

const WIDTH = 80;
const CONNECTION_OPTIONS = ['--url <url>', '--db <name>', '--username <name>', '--password <password>', '--config <file>'];

/** The subcommand names listed under "Commands:" in a help text (without `help`). */
function subcommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((name) => name !== 'help');
}

async function everyCommand(path: string[] = []): Promise<Array<{ path: string[]; help: string }>> {
  const r = await runCli([...path, '--help']);
  assert.equal(r.exitCode, 0, `${path.join(' ')}: ${r.stderr}`);
  const found = [{ path, help: r.stdout }];
  for (const name of subcommands(r.stdout)) found.push(...(await everyCommand([...path, name])));
  return found;
}

test("every command's help: wrapped to the width, the connection options listed, defaults shown one way", async () => {
  const all = await everyCommand();
  assert.ok(all.length > 25, `found ${all.length} commands`);
  for (const { path, help } of all) {
    const name = `picas ${path.join(' ')} --help`;
    // (a single word longer than the width, such as a URL, cannot be wrapped)
    for (const line of help.split('\n')) assert.ok(line.length <= WIDTH || /^\s*\S+$/.test(line), `${name}: a line of ${line.length} characters: ${line}`);
    for (const option of CONNECTION_OPTIONS) assert.ok(help.includes(`  ${option}`), `${name} lists ${option}`);
    assert.doesNotMatch(help, /\(default: "/, `${name}: a default in quotes`);
  }
  const byPath = new Map(all.map(({ path, help }) => [path.join(' '), help]));
  // a duration's default as a duration, a string's without quotes
  assert.match(byPath.get('firecrest status')!, /--interval <duration> +with --wait: time between polls \(default: 10s\)/);
  assert.match(byPath.get('push')!, /id prefix;[^(]*\(default: token\)/);
  assert.match(byPath.get('status')!, /\(default: 5s\)/);
  // the text after the options is wrapped too
  const exitCodes = byPath.get('')!.split(/^Exit codes: /m)[1]!;
  assert.ok(exitCodes.trim().split('\n').length > 1, 'the exit codes paragraph is wrapped');
  assert.match(exitCodes.replace(/\s+/g, ' ').trim(), /, 6 external tool failed \(sbatch, FirecREST\), 70 internal error\.$/);
});

test('a typo in a command or an option: one "did you mean" line, a non-zero exit, not the whole help', async () => {
  const command = await runCli(['lsit']);
  assert.equal(command.exitCode, 1);
  assert.equal(command.stderr.trim(), "error: unknown command 'lsit'\n(Did you mean list?)");
  const option = await runCli(['list', '--stat', 'todo']);
  assert.equal(option.exitCode, 1);
  assert.equal(option.stderr.trim(), "error: unknown option '--stat'\n(Did you mean --state?)");
  const nested = await runCli(['firecrest', 'sumbit']);
  assert.notEqual(nested.exitCode, 0);
  assert.match(nested.stderr, /\(Did you mean submit\?\)/);
  assert.doesNotMatch(command.stderr + option.stderr + nested.stderr, /Usage:/);
});
