/**
 * The process logger: pino, JSON lines, a constant message plus fields
 * (`log.info({ workload }, 'reload executed')`), never a Secret's content.
 */
import { pino, type DestinationStream, type Level, type Logger } from 'pino';

export interface LoggerOptions {
  level?: Level | 'silent';
  /** Where lines go; stdout by default (tests pass a stream to read them). */
  destination?: DestinationStream;
}

/**
 * Paths censored wherever they appear: a belt to the braces of never logging
 * key material (no code path should put these in a log line).
 */
const REDACT = ['privateKey', '*.privateKey', 'tls.key', '*.tls.key', 'req.headers.authorization'];

/** Create the JSON logger; `level` defaults to info. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: { name: 'config-reloader' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
