/**
 * `picas graph`: the dependency graph as Graphviz DOT or a Mermaid flowchart, each token labelled with its
 * state. An edge goes from a dependency to the token that waits for it. Past `maxNodes` tokens the graph is
 * summarized: one node per state (with its count) and one edge per pair of states (with the edge count).
 * Pure: the nodes come from the picas_deps/nodes view.
 */
export interface GraphNode {
  id: string;
  state: string;
  dependsOn: readonly string[];
}

export type GraphFormat = 'dot' | 'mermaid';

export const DEFAULT_GRAPH_MAX_NODES = 500;

const COLORS: Record<string, string> = {
  todo: '#e0e0e0',
  locked: '#ffe08a',
  done: '#9be29b',
  error: '#f28b82',
  waiting: '#aecbfa',
  blocked: '#d7aefb',
  other: '#ffffff',
  missing: '#ffffff',
};

const color = (state: string) => COLORS[state] ?? '#ffffff';

interface Shape {
  nodes: Array<{ key: string; label: string; state: string }>;
  edges: Array<{ from: string; to: string; label?: string }>;
  summarized: boolean;
}

function shape(nodes: readonly GraphNode[], maxNodes: number): Shape {
  const shown = new Map(nodes.map((n) => [n.id, n]));
  if (nodes.length <= maxNodes) {
    const edges: Shape['edges'] = [];
    for (const n of nodes) for (const dep of n.dependsOn) if (shown.has(dep)) edges.push({ from: dep, to: n.id });
    return { nodes: nodes.map((n) => ({ key: n.id, label: `${n.id}\n${n.state}`, state: n.state })), edges, summarized: false };
  }
  const perState = new Map<string, number>();
  for (const n of nodes) perState.set(n.state, (perState.get(n.state) ?? 0) + 1);
  const pairs = new Map<string, number>();
  for (const n of nodes) {
    for (const dep of n.dependsOn) {
      const from = shown.get(dep);
      if (!from) continue;
      const key = `${from.state}\0${n.state}`;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
  }
  return {
    nodes: [...perState].map(([state, count]) => ({ key: state, label: `${state}\n${count} token${count === 1 ? '' : 's'}`, state })),
    edges: [...pairs].map(([key, count]) => {
      const [from, to] = key.split('\0') as [string, string];
      return { from, to, label: `${count}` };
    }),
    summarized: true,
  };
}

function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function mermaidLabel(s: string): string {
  return `"${s.replace(/"/g, '#quot;').replace(/\n/g, '<br/>')}"`;
}

export function renderGraph(nodes: readonly GraphNode[], options: { format?: GraphFormat; maxNodes?: number } = {}): string {
  const g = shape(nodes, options.maxNodes ?? DEFAULT_GRAPH_MAX_NODES);
  const lines: string[] = [];
  if ((options.format ?? 'dot') === 'dot') {
    lines.push('digraph picas {', '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fontname="Helvetica"];');
    if (g.summarized) lines.push(`  label=${dotString(`${nodes.length} tokens, summarized by state`)};`);
    for (const n of g.nodes) lines.push(`  ${dotString(n.key)} [label=${dotString(n.label)}, fillcolor=${dotString(color(n.state))}];`);
    for (const e of g.edges) lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)}${e.label ? ` [label=${dotString(e.label)}]` : ''};`);
    lines.push('}');
    return lines.join('\n') + '\n';
  }
  const ids = new Map(g.nodes.map((n, i) => [n.key, `n${i}`]));
  lines.push('flowchart LR');
  if (g.summarized) lines.push(`  %% ${nodes.length} tokens, summarized by state`);
  for (const n of g.nodes) lines.push(`  ${ids.get(n.key)}[${mermaidLabel(n.label)}]:::${classOf(n.state)}`);
  for (const e of g.edges) lines.push(`  ${ids.get(e.from)} -->${e.label ? `|${e.label}|` : ''} ${ids.get(e.to)}`);
  for (const state of new Set(g.nodes.map((n) => classOf(n.state)))) lines.push(`  classDef ${state} fill:${color(state)},stroke:#555;`);
  return lines.join('\n') + '\n';
}

function classOf(state: string): string {
  return /^[a-z]+$/.test(state) ? state : 'other';
}
