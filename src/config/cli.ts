/**
 * Start-up glue: parse the configuration, or print help / an error and exit
 * with the conventional code (0 for `--help`, 2 for a usage error, as Go's
 * flag package does).
 */
import { ConfigError, parseConfig, type Config, type ConfigHost } from './config.ts';
import { helpText, isHelp } from './flags.ts';

/** Where loadConfigOrExit writes and how it exits (injectable for tests). */
export interface CliOutput {
  /** Write to standard output. */
  stdout(text: string): void;
  /** Write to standard error. */
  stderr(text: string): void;
  /** End the process with this code. */
  exit(code: number): never;
}

/** The real process: process.stdout, process.stderr and process.exit. */
export const processOutput: CliOutput = {
  stdout: (text) => {
    process.stdout.write(text);
  },
  stderr: (text) => {
    process.stderr.write(text);
  },
  exit: (code) => process.exit(code),
};

/** Exit code for a bad command line. */
export const USAGE_EXIT_CODE = 2;

/**
 * Parse argv and env into a Config. On `--help` / `-h`, print the help text to
 * stdout and exit 0. On a ConfigError, print `config-reloader: <message>` to
 * stderr and exit 2. Any other error is not caught.
 */
export function loadConfigOrExit(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  out: CliOutput = processOutput,
  host?: ConfigHost,
): Config {
  if (isHelp(argv)) {
    out.stdout(helpText());
    return out.exit(0);
  }
  try {
    return parseConfig(argv, env, host);
  } catch (e) {
    if (e instanceof ConfigError) {
      out.stderr(`config-reloader: ${e.message}\n`);
      return out.exit(USAGE_EXIT_CODE);
    }
    throw e;
  }
}
