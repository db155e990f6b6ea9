/**
 * pino loggers: one text line per event on a terminal (log-line-text.ts), JSON lines when piped, or as
 * `--log-format` says. Child loggers carry `worker` and `token`. Passwords, authorization headers and
 * credentials in URLs are redacted.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { logLineText, type LogFormat } from './log-line-text.js';
import { redactText } from './redact.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** default: stderr */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** `text` (one line per event) or `json`; default: text when the destination is a terminal */
  format?: LogFormat;
  /** secret strings to scrub from every message, e.g. the password */
  secrets?: readonly string[];
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const format = options.format ?? defaultLogFormat(destination);
  const secrets = (options.secrets ?? []).filter((s) => s && s.length >= 3);
  const opts = {
    level: options.level ?? process.env.PICAS_LOG_LEVEL ?? 'info',
    base: options.base ?? {},
    redact: {
      paths: ['password', '*.password', 'headers.authorization', '*.headers.authorization', 'config.password', 'auth', 'token.access_token'],
      censor: '***',
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactText(a, secrets) : a)));
      },
    },
    formatters: {
      log(obj: Record<string, unknown>) {
        if (obj.url && typeof obj.url === 'string') obj.url = redactText(obj.url, secrets);
        const err = obj.err as Error | undefined;
        if (err && typeof err === 'object' && typeof err.message === 'string') {
          obj.err = { type: err.name, message: redactText(err.message, secrets), code: (err as { code?: unknown }).code };
        }
        return obj;
      },
    },
  };
  if (format === 'text') return pino(opts, textStream(destination));
  return pino(opts, destination as DestinationStream);
}

/** Text on a terminal, JSON when piped (a file, a launcher, a log collector). */
export function defaultLogFormat(destination: DestinationStream | NodeJS.WritableStream = process.stderr): LogFormat {
  return (destination as { isTTY?: boolean }).isTTY === true ? 'text' : 'json';
}

/** Writes each JSON line pino produces as one text line, synchronously (nothing outlives the process). */
function textStream(destination: DestinationStream | NodeJS.WritableStream): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        const text = logLineText(line);
        if (text !== undefined) destination.write(text + '\n');
      }
    },
  };
}
