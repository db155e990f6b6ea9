import type { Command } from 'commander';
import { ExitCode, isTransient, PicasError, UsageError, type Resources, type TokenDoc } from '@picas/core';
import { note, say, withCouch } from '../context.js';
import { countOption, idListOption, positiveCountOption, sizeOption } from '../option-parsers.js';
import { ProgressLine } from '../progress-bar.js';
import { collect } from '../option-parsers.js';
import { sweepDefinition, type SweepFlags } from '../sweep-flags.js';

interface PushFlags extends SweepFlags {
  prefix: string;
  dryRun?: boolean;
  forceNew?: boolean;
  batchSize: number;
  after?: string[];
  cpus?: number;
  gpus?: number;
  mem?: number;
}

export function register(program: Command): void {
  program
    .command('push')
    .description('add tokens from files: .txt (one per line, # comments), .json (array), .jsonl, .yaml/.yml (list of objects with "input"); or a parameter sweep (--template, or a YAML file with a sweep: section; docs/sweeps.md)')
    .argument('[files...]', 'token files, or one sweep file')
    .option('--prefix <prefix>', 'id prefix; ids are <prefix>_<content hash>, so a re-push creates nothing new', 'token')
    .option('--force-new', 'give every token a new random id, even if the same token was pushed before')
    .option('--batch-size <n>', 'tokens per _bulk_docs request', positiveCountOption, 2000)
    .option('--after <ids>', 'every token pushed waits for these tokens (comma-separated ids; docs/dag.md)', idListOption)
    .option('--cpus <n>', 'cores every token without its own "resources" needs (docs/resources.md)', positiveCountOption)
    .option('--gpus <n>', 'GPUs every token without its own "resources" needs', countOption)
    .option('--mem <size>', 'memory every token without its own "resources" needs: bytes, or K/M/G/T like 16G', sizeOption)
    .option('--template <command>', 'sweep: the command, with {name} placeholders (shell-quoted; {name:raw} as is)')
    .option('--param <name=values>', 'sweep: a parameter (repeatable; the tokens are the product of all): a,b,c or start:stop:step or @file', collect)
    .option('--zip <name=values>', 'sweep: lists walked side by side (repeatable; all as long as each other)', collect)
    .option('--rows <file.csv>', 'sweep: one point per CSV row; the header names the placeholders')
    .option('--name <name>', 'sweep: its name, the id prefix (default: the command\'s first word and a hash of the template)')
    .option('--dry-run', 'print the token count and the first tokens; write nothing')
    .addHelpText(
      'after',
      `\nExamples:\n  picas push examples/quick/tokens.txt\n  picas push --cpus 8 --gpus 1 --mem 32G big.txt\n  picas push tokens.yaml --prefix run2\n  picas push merge.txt --after step_1,step_2\n  picas push --template 'sim --q {q} --d {d}' --param q=0.1:0.3:0.1 --param d=256,1024 --dry-run\n  picas push sweep.yaml\n\nEvery file is checked before anything is written; problems name the file and line.`,
    )
    .action(async (files: string[], flags: PushFlags, command: Command) => {
      const { readTokenFiles } = await import('@picas/core/token-files');
      const { openTextTokenFiles, streamableTokenFiles } = await import('@picas/core/token-text-stream');
      const { pushTokenBatches, pushTokens } = await import('@picas/core/ops/push-tokens');
      const needs = flags.cpus === undefined && flags.gpus === undefined && flags.mem === undefined ? undefined : { cpus: flags.cpus ?? 1, gpus: flags.gpus ?? 0, mem: flags.mem ?? 0 };
      const sweep = await openSweep(files, flags, needs);
      // .txt files without --after or resources are streamed (checked in a first pass, written in a second):
      // memory stays flat in their size; plain lines have no dependencies to check. So is a sweep without
      // dependencies: its points are made as they are sent
      const streamed = sweep ? !sweep.dependencies : streamableTokenFiles(files) && !(flags.after?.length) && !needs;
      const text = !streamed ? undefined : sweep ? sweep.source : await openTextTokenFiles(files, { prefix: flags.prefix, forceNew: flags.forceNew });
      const read = text ? [] : sweep ? await allDocs(sweep.source) : readTokenFiles(files, { prefix: flags.prefix, forceNew: flags.forceNew, after: flags.after, resources: needs }).docs;
      if (flags.dryRun) {
        const { printDryRun } = await import('../dry-run.js');
        await printDryRun(text ?? read, sweep?.summary);
        return;
      }
      await withCouch(command, async (couch) => {
        const { prepareDependencies, finishDependencies } = await import('@picas/core/ops/push-dependencies');
        const plan = await prepareDependencies(couch, read);
        const docs = plan.docs;
        const progress = new ProgressLine('pushing');
        let result;
        try {
          const pushOptions = { batchSize: flags.batchSize, onProgress: (n: number, total: number) => progress.update(n, total) };
          result = text ? await pushTokenBatches(couch, text.encodedBatches(flags.batchSize), text.tokens, pushOptions) : await pushTokens(couch, docs, pushOptions);
        } finally {
          progress.finish();
        }
        const plural = result.created === 1 ? '' : 's';
        say(`pushed ${result.created} token${plural}, ${result.alreadyPresent} already present`);
        if (plan.waiting.length + plan.blocked.length + plan.markExisting.length > 0) {
          const settled = await finishDependencies(couch, plan);
          say(`dependencies: ${settled.waiting} waiting, ${plan.blocked.length + settled.blocked.length} blocked, ${settled.released.length} released at once`);
        }
        if (result.failedBatches.length > 0) {
          const first = result.failedBatches[0]!.error;
          // a missing database, a URL that is not CouchDB, a refused login: its own message says what to do, not a re-run
          if (first instanceof PicasError && !isTransient(first)) throw first;
          // whole requests that failed: name the lines, say what was not sent, and how to finish
          for (const b of result.failedBatches) note(`picas: ${b.tokens} token${b.tokens === 1 ? '' : 's'} from ${b.where} may not have been written: ${(b.error as Error)?.message ?? String(b.error)}`);
          if (result.notSent > 0) note(`picas: the push stopped there; ${result.notSent} token${result.notSent === 1 ? '' : 's'} from ${result.notSentFrom} on were not sent`);
          for (const f of result.failed.slice(0, 50)) note(`picas: token ${f.id} was not written: ${f.error}${f.reason ? ` (${f.reason})` : ''}`);
          note(flags.forceNew ? 'picas: --force-new gives new ids on every run: re-running would push the written tokens again' : 'picas: run the same push again to finish: the tokens already written are skipped (already present)');
          const unsent = result.failedBatches.reduce((a, b) => a + b.tokens, 0) + result.notSent;
          throw new PicasError(`${unsent + result.failed.length} tokens were not written (listed above)`, first instanceof PicasError ? first.exitCode : ExitCode.unreachable, { cause: first });
        }
        if (result.failed.length > 0) {
          for (const f of result.failed.slice(0, 50)) note(`picas: token ${f.id} was not written: ${f.error}${f.reason ? ` (${f.reason})` : ''}`);
          if (result.failed.length > 50) note(`picas: ... and ${result.failed.length - 50} more`);
          const denied = result.failed.every((f) => f.error === 'forbidden' || f.error === 'unauthorized');
          throw new PicasError(`${result.failed.length} token${result.failed.length === 1 ? ' was' : 's were'} not written (listed above)`, denied ? ExitCode.auth : ExitCode.usage);
        }
      });
    });
}

/** The sweep the flags or the one sweep file give, checked, with its token source; undefined for a file push. */
async function openSweep(files: string[], flags: PushFlags, needs: Resources | undefined) {
  const definition = await sweepDefinition(files, flags);
  if (!definition) return undefined;
  if (flags.forceNew) throw new UsageError('--force-new: a sweep\'s ids come from its name and parameters (give --name for another sweep)');
  const { DEFAULT_TOKEN_PREFIX } = await import('@picas/core/token-ids');
  if (flags.prefix !== DEFAULT_TOKEN_PREFIX) throw new UsageError('--prefix: a sweep\'s id prefix is its name (--name, or name: in a sweep file)');
  const { buildSweep, describeShape } = await import('@picas/core/sweep');
  const { sweepTokenSource } = await import('@picas/core/sweep-source');
  const fields = { ...definition.fields };
  if (needs && fields.resources === undefined) fields.resources = needs;
  if (flags.after?.length) fields.depends_on = [...new Set([...((fields.depends_on as string[] | undefined) ?? []), ...flags.after])];
  const built = buildSweep({ ...definition, fields });
  return {
    source: sweepTokenSource(built),
    dependencies: Array.isArray(fields.depends_on) && fields.depends_on.length > 0,
    summary: `sweep ${built.name}: ${built.count.toLocaleString('en-US')} token${built.count === 1 ? '' : 's'} (${describeShape(built)})`,
  };
}

/** Every document of a sweep, for the push path that checks dependencies (which holds the documents anyway). */
async function allDocs(source: { batches(size: number): AsyncGenerator<TokenDoc[]> }): Promise<TokenDoc[]> {
  const docs: TokenDoc[] = [];
  for await (const batch of source.batches(10_000)) docs.push(...batch);
  return docs;
}
