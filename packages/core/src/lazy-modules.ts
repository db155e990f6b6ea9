/**
 * Modules only some runs need, loaded on first use: a pilot starts once per Slurm task, so what it does not
 * use (YAML for config and token files) should not cost it start-up time.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const yamlModule = (): typeof import('yaml') => require('yaml') as typeof import('yaml');
