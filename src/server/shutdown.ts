/**
 * Graceful shutdown on SIGTERM/SIGINT: stop accepting connections, let
 * in-flight admissions finish (bounded), run the shutdown hooks (the watcher
 * releases its Lease there), exit 0.
 */
import type { ServerApp } from './app.ts';

/**
 * Admissions take milliseconds and the API server gives up after the
 * webhook's timeoutSeconds (≤ 5 s in our manifests): 10 s of draining is
 * plenty, and with the hooks' bound stays inside Kubernetes' default 30 s
 * terminationGracePeriodSeconds.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Each hook (e.g. one Lease update) gets 5 s before we move on. */
export const DEFAULT_HOOK_TIMEOUT_MS = 5_000;

export type ShutdownHook = () => unknown;

export interface ShutdownOptions {
  /** Run in order after the server has closed. Errors and timeouts are logged, not fatal. */
  hooks?: ShutdownHook[];
  drainTimeoutMs?: number;
  hookTimeoutMs?: number;
  signals?: readonly NodeJS.Signals[];
  /** Defaults to process.exit; tests pass their own. */
  exit?: (code: number) => void;
}

export interface ShutdownHandle {
  /** Add a hook (e.g. the watcher, created after the server). */
  onShutdown(hook: ShutdownHook): void;
  /** Shut down now (also what the signals do). Resolves after exit() was called. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Install the signal handlers. Call before `listen()`: it adds an onClose
 * hook that removes them when the app is closed some other way.
 */
export function installShutdown(app: ServerApp, opts: ShutdownOptions = {}): ShutdownHandle {
  const hooks = [...(opts.hooks ?? [])];
  const drainTimeoutMs = opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const hookTimeoutMs = opts.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  if (!(drainTimeoutMs > 0) || !(hookTimeoutMs > 0)) throw new Error('shutdown timeouts must be > 0');
  const log = app.log;
  let running: Promise<void> | undefined;

  function onSignal(signal: NodeJS.Signals): void {
    if (running) {
      log.warn({ signal }, 'second signal during shutdown, exiting now');
      exit(1);
      return;
    }
    void shutdown(signal);
  }
  const uninstall = () => {
    for (const s of signals) process.off(s, onSignal);
  };
  for (const s of signals) process.on(s, onSignal);
  app.addHook('onClose', async () => {
    if (!running) uninstall();
  });

  async function run(reason: string): Promise<void> {
    log.info({ reason, drainTimeoutMs }, 'shutdown started');
    const closed = app.close().then(
      () => undefined,
      (err: unknown) => log.error({ err }, 'closing the server failed'),
    );
    if (!(await within(closed, drainTimeoutMs))) {
      log.warn({ drainTimeoutMs }, 'requests still in flight after the drain timeout, closing their connections');
      app.server.closeAllConnections();
      await within(closed, drainTimeoutMs);
    }
    for (const hook of hooks) {
      try {
        if (!(await within(Promise.resolve().then(hook), hookTimeoutMs))) log.warn({ hookTimeoutMs }, 'shutdown hook timed out');
      } catch (err) {
        log.error({ err }, 'shutdown hook failed');
      }
    }
    uninstall();
    log.info({ reason }, 'shutdown complete');
    exit(0);
  }

  function shutdown(reason: string): Promise<void> {
    running ??= run(reason);
    return running;
  }

  return { onShutdown: (hook) => void hooks.push(hook), shutdown };
}

/** Resolves true if `p` settles within `ms` (its rejection propagates), false on timeout. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
