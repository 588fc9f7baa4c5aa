/**
 * Launch config-reloader (the real bin, `src/main.ts`) as a child process,
 * the way an operator runs it: provided-certificate mode with a CA and serving
 * certificate from our certs module, listening on 127.0.0.1. Logs go straight
 * to a file (not through this process). Stopped at cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCA, createServingCert } from '../../src/certs/issue.ts';
import { onCleanup } from './cluster.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ReloaderProcess {
  pid: number;
  port: number;
  proc: ChildProcess;
  /** performance.now() just before spawn. */
  spawnedAt: number;
  logPath: string;
  /** GET over HTTPS, trusting our CA; rejects on transport errors. */
  get(path: string): Promise<{ status: number; body: string }>;
  /** Poll /readyz every `intervalMs`; resolves with performance.now() of the first 200. */
  waitReady(opts?: { timeoutMs?: number; intervalMs?: number; onPoll?: () => void }): Promise<number>;
  /** Workloads waiting for or in reconcile (config_reloader_queue_depth). */
  queueDepth(): Promise<number>;
  /** Wait until the queue depth has been 0 on `stable` consecutive polls. */
  waitIdle(opts?: { timeoutMs?: number; stable?: number }): Promise<void>;
  /** A metric's value from /metrics (sum of its series). */
  metric(name: string): Promise<number>;
  /** SIGTERM, SIGKILL after 10 s; resolves on exit. */
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

let certs: Promise<{ dir: string; caPem: string }> | undefined;

/** One CA + serving certificate for 127.0.0.1 per benchmark process (removed at cleanup). */
function benchCerts(): Promise<{ dir: string; caPem: string }> {
  certs ??= (async () => {
    const ca = await createCA({ commonName: 'bench-ca', validityDays: 2 });
    const s = await createServingCert({ ca, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'cr-bench-certs-'));
    writeFileSync(join(dir, 'tls.crt'), s.cert);
    writeFileSync(join(dir, 'tls.key'), s.key, { mode: 0o600 });
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    return { dir, caPem: ca.cert };
  })();
  return certs;
}

export interface StartOptions {
  kubeconfigPath: string;
  /** Extra flags, e.g. ['--debounce', '0']. */
  args?: string[];
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/x']. */
  nodeFlags?: string[];
  /** Where its log goes (default: a temp file removed at cleanup). */
  logPath?: string;
  /** The script to run (default src/main.ts; see build.ts for a compiled dist/src/main.js). */
  entry?: string;
  /** Extra environment, e.g. { MALLOC_ARENA_MAX: '2' }. */
  env?: Record<string, string>;
}

/** Start config-reloader; does not wait for readiness (see waitReady). */
export async function startReloader(o: StartOptions): Promise<ReloaderProcess> {
  const { dir, caPem } = await benchCerts();
  const port = await freePort();
  let logPath = o.logPath;
  if (!logPath) {
    const logDir = mkdtempSync(join(tmpdir(), 'cr-bench-log-'));
    onCleanup(() => rmSync(logDir, { recursive: true, force: true }));
    logPath = join(logDir, 'config-reloader.log');
  }
  const fd = openSync(logPath, 'a');
  const args = [
    ...(o.nodeFlags ?? []),
    o.entry ?? join(repoRoot, 'src/main.ts'),
    '--kubeconfig', o.kubeconfigPath,
    '--cert-dir', dir,
    '--port', String(port),
    '--bind-address', '127.0.0.1',
    '--namespace', 'config-reloader',
    ...(o.args ?? []),
  ];
  const spawnedAt = performance.now();
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env: { ...process.env, POD_NAME: 'config-reloader-bench', ...o.env } });
  } finally {
    closeSync(fd);
  }
  if (proc.pid === undefined) throw new Error('could not start config-reloader');
  const pid = proc.pid;
  let gone = false;
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (code) => {
      gone = true;
      r(code);
    }),
  );
  const stop = async () => {
    if (gone) return;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  onCleanup(stop);

  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((res, rej) => {
      const req = request({ host: '127.0.0.1', port, path, ca: caPem, servername: 'localhost', timeout: 5000, agent: false }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', rej);
      req.end();
    });
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').slice(-3000);
    } catch {
      return '';
    }
  };
  const metric = async (name: string) => {
    const { body } = await get('/metrics');
    let sum = 0;
    let found = false;
    for (const line of body.split('\n')) {
      if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) {
        sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        found = true;
      }
    }
    return found ? sum : NaN;
  };
  const r: ReloaderProcess = {
    pid,
    port,
    proc,
    spawnedAt,
    logPath,
    get,
    exited,
    stop,
    metric,
    queueDepth: () => metric('config_reloader_queue_depth'),
    waitReady: async ({ timeoutMs = 300_000, intervalMs = 100, onPoll } = {}) => {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        onPoll?.();
        if (gone) throw new Error(`config-reloader exited before ready:\n${logTail()}`);
        const t = performance.now();
        const ok = await get('/readyz').then((x) => x.status === 200, () => false);
        if (ok) return t;
        if (performance.now() > deadline) throw new Error(`config-reloader not ready after ${timeoutMs} ms:\n${logTail()}`);
        await new Promise((res) => setTimeout(res, Math.max(0, intervalMs - (performance.now() - t))));
      }
    },
    waitIdle: async ({ timeoutMs = 600_000, stable = 3 } = {}) => {
      const deadline = performance.now() + timeoutMs;
      let zeros = 0;
      while (zeros < stable) {
        if (gone) throw new Error(`config-reloader exited:\n${logTail()}`);
        zeros = (await r.queueDepth()) === 0 ? zeros + 1 : 0;
        if (performance.now() > deadline) throw new Error('config-reloader queue never drained');
        await new Promise((res) => setTimeout(res, 200));
      }
    },
  };
  return r;
}
