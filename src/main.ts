#!/usr/bin/env node
/**
 * The `config-reloader` command: parse flags and env once, run, and shut down
 * gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight admissions,
 * release the Lease). Exit codes: 0 after --help or a clean shutdown, 1 on a
 * start-up failure, 2 on a bad flag.
 */
import { loadConfigOrExit } from './config/cli.ts';
import { createLogger } from './server/logger.ts';
import { run } from './run.ts';

const config = loadConfigOrExit(process.argv.slice(2), process.env);
const log = createLogger({ level: config.logging.level });
try {
  await run(config, { logger: log, handleSignals: true });
} catch (e) {
  log.fatal({ err: (e as Error).message }, 'start-up failed');
  process.exit(1);
}
