/**
 * Public API of the configuration module: import from here.
 */
export * from './annotations.ts';
export * from './config.ts';
export { formatDuration, parseGoDuration } from './duration.ts';
export { ENV_VARS, FLAGS, helpText, isHelp, type FlagSpec, type FlagType } from './flags.ts';
