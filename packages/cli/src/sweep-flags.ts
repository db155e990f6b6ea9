/**
 * `picas push --template ... --param name=values --zip name=values --rows file.csv --name NAME`, or one
 * sweep file (`picas push sweep.yaml`): the sweep definition they give, or undefined for a plain file push.
 */
import { UsageError } from '@picas/core';
import type { ParamDefinition, SweepDefinition } from '@picas/core/sweep';

export interface SweepFlags {
  template?: string;
  param?: string[];
  zip?: string[];
  rows?: string;
  name?: string;
}

/** The sweep these flags and files give, or undefined when there is none (a plain file push). */
export async function sweepDefinition(files: readonly string[], flags: SweepFlags): Promise<SweepDefinition | undefined> {
  const { isSweepFile, readSweepFile } = await import('@picas/core/sweep-file');
  const sweepFiles = files.filter(isSweepFile);
  const sweepFlags = (['param', 'zip', 'rows', 'name'] as const).filter((k) => flags[k] !== undefined).map((k) => `--${k}`);
  if (flags.template !== undefined) {
    if (files.length > 0) throw new UsageError(`--template makes the tokens: give no token files with it (got ${files.join(' ')})`);
    return { template: flags.template, name: flags.name, params: assignments(flags.param, '--param'), zip: assignments(flags.zip, '--zip'), rows: flags.rows };
  }
  if (sweepFiles.length > 0) {
    if (files.length > 1) throw new UsageError(`${sweepFiles[0]} is a sweep file: push it alone (got ${files.length} files)`);
    if (sweepFlags.length > 0) throw new UsageError(`${sweepFlags.join(', ')}: put these in the sweep file's 'sweep' section`);
    return readSweepFile(files[0]!);
  }
  if (sweepFlags.length > 0) throw new UsageError(`${sweepFlags.join(', ')} need --template (the command, with {name} placeholders)`);
  if (files.length === 0) throw new UsageError('no token files given (picas push FILE... or picas push --template ... --param ...)');
  return undefined;
}

/** `name=values` texts (`q=0.1:0.3:0.1`, `d=256,1024`, `seed=@seeds.txt`). */
function assignments(given: readonly string[] | undefined, flag: string): ParamDefinition[] {
  return (given ?? []).map((text) => {
    const eq = text.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} '${text}': expected name=values, like q=0.1:0.3:0.1, d=256,1024 or seed=@seeds.txt`);
    const name = text.slice(0, eq).trim();
    return { name, values: text.slice(eq + 1), where: `${flag} ${name}` };
  });
}
