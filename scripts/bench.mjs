#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --url URL]`: install if needed, build, then run the benchmark.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt, root } from './ensure-built.mjs';

ensureBuilt();
const r = spawnSync(process.execPath, [join(root, 'packages/bench/dist/src/main.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
