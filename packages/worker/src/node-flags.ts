/**
 * Node options every pilot runs with. A pilot with 16 slots allocates fast (a process, a few HTTP bodies
 * and log lines per token), and V8 then grows its young generation to 2 x 16 MiB semi-spaces that stay
 * resident: peak RSS went past 120 MB. Capping the semi-space at 8 MiB keeps it near 100 MB, with no
 * measurable CPU cost.
 *
 * The launchers (worker-command.ts) and the `bin/picas-worker` wrapper pass these to node. The entry
 * point's shebang stays a plain `#!/usr/bin/env node` (`env -S` is missing from older HPC systems), so
 * `bin.ts` sets them at run time when it was started without them, which is less effective.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
