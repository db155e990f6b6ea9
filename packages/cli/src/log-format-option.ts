/**
 * `--log-format text|json` (env PICAS_LOG_FORMAT) for picas' own log lines: `picas dashboard`'s log and
 * `picas launch local`'s rendering of its workers' lines. A command's own flag wins over the global one,
 * which wins over the env var; the default is text on a terminal, json when piped.
 */
import type { Command } from 'commander';
import { defaultLogFormat, LOG_FORMATS, UsageError, type LogFormat } from '@picas/core';

export function logFormatOf(command: Command): LogFormat {
  const given = (command.opts().logFormat ?? command.optsWithGlobals().logFormat ?? process.env.PICAS_LOG_FORMAT) as string | undefined;
  if (given === undefined || given === '') return defaultLogFormat(process.stderr);
  if (!(LOG_FORMATS as readonly string[]).includes(given)) throw new UsageError(`--log-format: '${given}' is not one of ${LOG_FORMATS.join(', ')}`);
  return given as LogFormat;
}
