/**
 * pino loggers: JSON lines when piped, pretty on a TTY. Child loggers carry `worker` and `token`.
 * Passwords, authorization headers and credentials in URLs are redacted.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { prettyModule } from './lazy-modules.js';
import { redactText } from './redact.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** default: stderr */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** force pretty (true) or JSON (false); default: pretty when the destination is a TTY */
  pretty?: boolean;
  /** secret strings to scrub from every message, e.g. the password */
  secrets?: readonly string[];
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const isTty = (destination as { isTTY?: boolean }).isTTY === true;
  const pretty = options.pretty ?? (isTty && !process.env.CI);
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
  if (pretty) {
    // pino-pretty as a synchronous stream (no worker thread), so nothing outlives the process
    return pino(opts, prettyStream(destination));
  }
  return pino(opts, destination as DestinationStream);
}

function prettyStream(destination: DestinationStream | NodeJS.WritableStream): DestinationStream {
  // pino-pretty exports a factory returning a transform stream
  const pretty = prettyModule();
  const prettyFactory = (pretty as unknown as { default?: typeof pretty }).default ?? pretty;
  return prettyFactory({ colorize: true, destination, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' });
}
