/**
 * `picas dashboard`: a live web page for the database (see @picas/dashboard), served from this process.
 * The server talks to CouchDB with the configured credentials; the browser gets none of them.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createLogger, describeConnection } from '@picas/core';
import { connectionFor, note, say } from '../context.js';
import { logFormatOf } from '../log-format-option.js';
import { portOption } from '../option-parsers.js';

interface DashboardFlags {
  port: number;
  host: string;
  open?: boolean;
}

export const DEFAULT_DASHBOARD_PORT = 5990;

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('a live web dashboard: counts, progress and ETA, tokens finished per minute, failures with their logs, pilots')
    .option('--port <n>', `port to listen on (0 picks a free one)`, portOption, DEFAULT_DASHBOARD_PORT)
    .option('--host <address>', 'address to bind; any other than a loopback address requires the access token printed at start', '127.0.0.1')
    .option('--open', 'open the page in a browser (xdg-open or open)')
    .addHelpText(
      'after',
      `\nThe page updates within about 2 s of a change in CouchDB (a _changes feed on this side, server-sent events to the\nbrowser) and adds at most one view read per second to CouchDB, however many pages are open.\n\nExamples:\n  picas dashboard\n  picas dashboard --port 8080 --open\n  picas dashboard --host 0.0.0.0    # prints a URL with an access token`,
    )
    .action(async (flags: DashboardFlags, command: Command) => {
      const config = connectionFor(command);
      const { startDashboard } = await import('@picas/dashboard');
      const secrets = [config.password].filter((s): s is string => !!s);
      const log = createLogger({ level: process.env.PICAS_LOG_LEVEL ?? 'warn', format: logFormatOf(command), secrets });
      const dashboard = await startDashboard({ config, host: flags.host, port: flags.port, log });
      say(`picas dashboard: ${dashboard.url}`);
      note(`picas dashboard: ${describeConnection(config)}; Ctrl-C to stop`);
      if (dashboard.accessToken) note('picas dashboard: bound to a non-loopback address: the page needs the access token in the URL above (keep it private)');
      if (flags.open) openBrowser(dashboard.url);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          // a second Ctrl-C while closing stops at once
          process.once('SIGINT', () => process.exit(130));
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await dashboard.close();
    });
}

function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  try {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => note(`picas dashboard: could not run ${opener}; open ${url} yourself`));
    child.unref();
  } catch {
    note(`picas dashboard: could not run ${opener}; open ${url} yourself`);
  }
}
