import { Option, type Command } from 'commander';
import { ALL_TOKEN_STATES, UsageError } from '@picas/core';
import { note, withCouch } from '../context.js';
import { positiveCountOption } from '../option-parsers.js';

interface GraphFlags {
  format: 'dot' | 'mermaid';
  state?: string;
  maxNodes: number;
}

export function register(program: Command): void {
  program
    .command('graph')
    .description('print the dependency graph (tokens with depends_on, and the tokens they wait for) with each token\'s state')
    .addOption(new Option('--format <format>', 'dot (Graphviz) or mermaid (Markdown viewers)').choices(['dot', 'mermaid']).default('dot'))
    .option('--state <states>', `only tokens in these states (comma-separated: ${ALL_TOKEN_STATES.join(', ')})`)
    .option('--max-nodes <n>', 'past this many tokens, draw one node per state instead', positiveCountOption, 500)
    .addHelpText('after', `\nExamples:\n  picas graph | dot -Tsvg > graph.svg\n  picas graph --format mermaid --state waiting,blocked`)
    .action(async (flags: GraphFlags, command: Command) => {
      const states = flags.state?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = states?.filter((s) => !(ALL_TOKEN_STATES as readonly string[]).includes(s)) ?? [];
      if (unknown.length > 0) throw new UsageError(`--state: unknown state '${unknown[0]}' (use ${ALL_TOKEN_STATES.join(', ')})`);
      const { graphNodes } = await import('@picas/core/ops/dependencies');
      const { renderGraph } = await import('@picas/core/graph-render');
      await withCouch(command, async (couch) => {
        const nodes = [];
        for await (const node of graphNodes(couch.http)) if (!states || states.includes(node.state)) nodes.push(node);
        if (nodes.length === 0) note(`picas: no tokens with dependencies${states ? ` in state ${states.join(', ')}` : ''}`);
        process.stdout.write(renderGraph(nodes, { format: flags.format, maxNodes: flags.maxNodes }));
      });
    });
}
