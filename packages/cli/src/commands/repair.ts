import type { Command } from 'commander';
import { printJson, say, withCouch } from '../context.js';

interface RepairFlags {
  dryRun?: boolean;
  json?: boolean;
  force?: boolean;
}

export function register(program: Command): void {
  program
    .command('repair')
    .description('resolve tokens with conflicting revisions (left by claims a cluster only half accepted): keep one, put it back to todo')
    .option('--dry-run', 'list what would be repaired, change nothing')
    .option('--json', 'print the report as JSON')
    .option('--force', 'also repair tokens with a revision locked under a live lease (a pilot may still be running it)')
    .addHelpText(
      'after',
      `\nExamples:\n  picas repair --dry-run\n  picas repair --json\n\n` +
        `For each token with conflicts, the losing revisions are deleted. A finished result (done or error) found on any\n` +
        `revision is kept; otherwise the token goes back to todo (scrub_count + 1) with a note in its events.\n` +
        `Claims that a cluster only half accepted (202) never ran: they are repaired at once, without --force, and\n` +
        `without a scrub. A revision locked under a live lease that may be running is left alone unless --force.\n` +
        `Safe to run at any time and more than once; pilots also run it on a jittered interval (--repair-interval).`,
    )
    .action(async (flags: RepairFlags, command: Command) => {
      const { repairConflicts } = await import('@picas/core/ops/repair');
      const { readReplicas } = await import('@picas/core/ops/replicas');
      await withCouch(command, async (couch) => {
        // on a cluster every replica is asked for the leaves, so that none is missed before replication merged them
        const replicas = await readReplicas(couch.http);
        const r = replicas.clustered ? replicas.n : undefined;
        const report = await repairConflicts(couch.http, { dryRun: flags.dryRun, force: flags.force, actor: 'picas repair', r });
        // waiting tokens whose dependencies are done (or failed) but were not released (or blocked): docs/dag.md
        const { sweepDependencies } = await import('../dependency-sweep.js');
        const dependencies = await sweepDependencies(couch, { dryRun: flags.dryRun });
        if (flags.json) {
          printJson({ ...report, dependencies });
          return;
        }
        if (dependencies.line) say(dependencies.line);
        const verb = report.dryRun ? 'would repair' : 'repaired';
        if (report.found === 0) {
          say('no tokens with conflicting revisions');
          return;
        }
        for (const r of report.repaired) say(`${verb} ${r.id}: ${r.removed.length} losing revision(s) ${report.dryRun ? 'to delete' : 'deleted'}, now ${r.state}`);
        for (const s of report.skipped) say(`skipped ${s.id}: ${s.reason}`);
        say(`${report.found} token(s) with conflicts: ${report.repaired.length} ${verb}, ${report.skipped.length} skipped`);
      });
    });
}
