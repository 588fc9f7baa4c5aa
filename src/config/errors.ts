/**
 * The one error type of configuration parsing. `flag` names what was wrong:
 * a flag as `--name` (or the token as typed, for an unknown flag), or an
 * environment variable name such as `ALERT_ON_RELOAD`.
 */
export class ConfigError extends Error {
  /** The flag (`--port`) or environment variable (`ALERT_ON_RELOAD`) at fault. */
  readonly flag: string;

  constructor(flag: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.flag = flag;
  }
}
