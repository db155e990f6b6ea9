import type { Command } from 'commander';

// placeholder: replaced by the real command
export function register(_program: Command): void {}
