/**
 * Provided-certificate mode: serve `tls.crt`/`tls.key` from `--cert-dir`
 * (cert-manager or any Secret volume) and follow their changes without a
 * restart.
 *
 * The kubelet updates a Secret volume atomically: it writes a new timestamped
 * directory, points a temporary `..data_tmp` symlink at it and renames that
 * over `..data`; `tls.crt` and `tls.key` are symlinks through `..data`. We
 * watch the directory, debounce the burst of events, then re-read both files
 * and swap only a pair whose key matches its certificate; a bad pair is
 * logged and the previous one kept. fs.watch misses events on some file
 * systems (NFS, some overlay setups), so the files are also stat-ed every few
 * seconds.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { certInfo, checkPair } from './info.ts';
import type { CertPair } from './types.ts';

/**
 * The kubelet's swap produces 3–5 directory events within a millisecond or
 * two; 100 ms gathers them into one re-read and still reloads well within a
 * second.
 */
export const DEFAULT_DEBOUNCE_MS = 100;
/** Two stat() calls every 5 s: negligible cost, and a missed event is caught within 5 s. */
export const DEFAULT_POLL_INTERVAL_MS = 5_000;

export interface FileSourceOptions {
  /** Directory holding the two files. */
  dir: string;
  /** Called with every new valid pair (not with the initial one). Errors are logged. */
  onChange: (pair: CertPair) => void;
  logger: Logger;
  certFile?: string;
  keyFile?: string;
  debounceMs?: number;
  pollIntervalMs?: number;
}

export interface FileSource {
  /** The pair being served (the last valid one read). */
  current(): CertPair;
  /** Re-read now (e.g. on SIGHUP); resolves when done. Never rejects. */
  reload(): Promise<void>;
  /** Stop watching and polling; no callback runs afterwards. */
  close(): void;
}

/**
 * Read the initial pair (rejects if it is missing or invalid: there is nothing
 * to serve), then follow changes until `close()`.
 */
export async function openCertDir(opts: FileSourceOptions): Promise<FileSource> {
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!(debounceMs >= 0)) throw new Error(`debounceMs must be >= 0, got ${debounceMs}`);
  if (!(pollIntervalMs > 0)) throw new Error(`pollIntervalMs must be > 0, got ${pollIntervalMs}`);
  const certPath = join(opts.dir, opts.certFile ?? 'tls.crt');
  const keyPath = join(opts.dir, opts.keyFile ?? 'tls.key');
  const log = opts.logger;

  const initialSig = await signature(certPath, keyPath);
  let current = await readPair(certPath, keyPath).catch((err: unknown) => {
    throw new Error(`cannot read the certificate in ${opts.dir}: ${(err as Error).message}`);
  });
  const problem = checkPair(current);
  if (problem !== undefined) throw new Error(`certificate in ${opts.dir} is unusable: ${problem}`);
  let lastSig = initialSig;

  let closed = false;
  let pending = false;
  let debounce: NodeJS.Timeout | undefined;

  /** One re-read; runs serialised (a request during a run queues exactly one more). */
  async function check(): Promise<void> {
    const sig = await signature(certPath, keyPath);
    if (sig === lastSig) return;
    // Record before reading: a pair that stays broken is reported once, not every poll.
    lastSig = sig;
    let pair: CertPair;
    try {
      pair = await readPair(certPath, keyPath);
    } catch (err) {
      log.warn({ dir: opts.dir, code: (err as NodeJS.ErrnoException).code }, 'provided certificate unreadable, keeping the previous one');
      return;
    }
    if ((await signature(certPath, keyPath)) !== sig) {
      // The files changed while we read them: the pair may be torn. Read again.
      lastSig = '';
      pending = true;
      return;
    }
    if (pair.cert === current.cert && pair.key === current.key) {
      log.debug({ dir: opts.dir }, 'provided certificate rewritten with the same content');
      return;
    }
    const reason = checkPair(pair);
    if (reason !== undefined) {
      log.warn({ dir: opts.dir, reason }, 'provided certificate rejected, keeping the previous one');
      return;
    }
    current = pair;
    const info = certInfo(pair.cert);
    log.info({ dir: opts.dir, serialNumber: info.serialNumber, notAfter: info.notAfter.toISOString() }, 'provided certificate reloaded');
    if (closed) return;
    try {
      opts.onChange(pair);
    } catch (err) {
      log.error({ dir: opts.dir, err: (err as Error).message }, 'applying the reloaded certificate failed');
    }
  }

  let loop: Promise<void> | undefined;
  /** Run `check` until no request arrived meanwhile; concurrent callers share the same run. */
  function run(): Promise<void> {
    if (loop) {
      pending = true;
      return loop;
    }
    loop = (async () => {
      try {
        do {
          pending = false;
          await check().catch((err: unknown) => log.error({ dir: opts.dir, err: (err as Error).message }, 'certificate reload failed'));
        } while (pending && !closed);
      } finally {
        loop = undefined;
      }
    })();
    return loop;
  }

  function schedule(): void {
    clearTimeout(debounce);
    debounce = setTimeout(run, debounceMs);
    debounce.unref();
  }

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(opts.dir, { persistent: false }, schedule);
    watcher.on('error', (err) => {
      log.warn({ dir: opts.dir, err: err.message }, 'watching the certificate directory failed, polling only');
      watcher?.close();
      watcher = undefined;
    });
  } catch (err) {
    log.warn({ dir: opts.dir, err: (err as Error).message }, 'cannot watch the certificate directory, polling only');
  }
  const poll = setInterval(run, pollIntervalMs);
  poll.unref();

  return {
    current: () => current,
    reload: run,
    close(): void {
      closed = true;
      clearTimeout(debounce);
      clearInterval(poll);
      watcher?.close();
      watcher = undefined;
    },
  };
}

async function readPair(certPath: string, keyPath: string): Promise<CertPair> {
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key };
}

/** Identity of both files' current targets (symlinks followed); changes on every kubelet swap. */
async function signature(certPath: string, keyPath: string): Promise<string> {
  const one = (p: string) =>
    stat(p).then(
      (s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`,
      (err: NodeJS.ErrnoException) => `missing:${err.code}`,
    );
  return `${await one(certPath)}|${await one(keyPath)}`;
}
