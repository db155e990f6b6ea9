import type { Command } from 'commander';
import { NotFoundError } from '@picas/core';
import { withCouch } from '../context.js';
import { missingTokensError } from '../missing-tokens.js';
import { watchStdoutClosed } from '../stdout-closed.js';

export function register(program: Command): void {
  program
    .command('logs')
    .description("print a token's log: the attachment logs_<id>.out (or logs_<id>.err with --stderr), byte for byte")
    .argument('<id>', 'token id')
    .option('--stderr', 'print the stderr log (logs_<id>.err)')
    .action(async (id: string, flags: { stderr?: boolean }, command: Command) => {
      const { readToken } = await import('@picas/core/ops/read-token');
      const { logAttachmentName, readTokenLog } = await import('@picas/core/ops/token-log');
      await withCouch(command, async (couch) => {
        const doc = await readToken(couch.http, id);
        if (!doc) throw missingTokensError([id], couch.config.db);
        const stream = flags.stderr ? 'err' : 'out';
        const name = logAttachmentName(id, stream);
        const attachments = Object.keys(doc._attachments ?? {});
        if (!attachments.includes(name)) {
          const has = attachments.length ? `it has: ${attachments.join(', ')}` : 'it has no attachments; has it run yet?';
          throw new NotFoundError(`token '${id}' has no log ${name} (${has})`);
        }
        const body = await readTokenLog(couch.http, id, stream);
        const stdout = watchStdoutClosed();
        try {
          await new Promise<void>((resolve, reject) => process.stdout.write(body, (err) => (err ? reject(err) : resolve())));
        } catch (err) {
          if (!stdout.signal.aborted) throw err; // the reader went away (picas logs ID | head)
        } finally {
          stdout.dispose();
        }
      });
    });
}
