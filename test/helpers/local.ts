/**
 * Small helpers for in-process unit tests: bounded fast polling of a
 * synchronous condition, and a logger whose JSON lines the test can read.
 */
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/server/logger.ts';

/** Resolve when `cond()` holds; fail after `ms` (polls every 5 ms). */
export async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A logger (our real one) writing parsed lines into `lines`. */
export function captureLogger(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ level, destination }), lines, text: () => JSON.stringify(lines) };
}
