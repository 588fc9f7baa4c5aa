/**
 * Run config-reloader itself (the real bin, `src/main.ts`, as a child
 * process) against the shared test control plane, with certificates from our
 * own certs module and a MutatingWebhookConfiguration that points at it by
 * `https://127.0.0.1:<port>/mutate`.
 *
 * Isolation between test files that run in parallel: each instance has an
 * `owner` id; it watches only namespaces labelled `config-reloader.test/owner
 * = <owner>` (`--namespace-selector`) and its webhook configuration selects
 * the same label, so instances never touch each other's workloads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCA, createServingCert } from '../../src/certs/issue.ts';
import { apiStatus, clients, createTestNamespace, testKubeconfigPath, waitFor, type TeardownHost } from './cluster-env.ts';
import { freePort } from './control-plane.ts';
import { podWebhook } from './webhook-config.ts';

export { freePort };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const OWNER_LABEL = 'config-reloader.test/owner';

/** Certificates for 127.0.0.1, made by our certs module. */
export interface TestCerts {
  dir: string;
  caPem: string;
}

export async function makeCerts(t: TeardownHost): Promise<TestCerts> {
  const ca = await createCA({ commonName: 'e2e-ca', validityDays: 2 });
  const s = await createServingCert({ ca, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'cr-e2e-certs-'));
  writeFileSync(join(dir, 'tls.crt'), s.cert);
  writeFileSync(join(dir, 'tls.key'), s.key, { mode: 0o600 });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, caPem: ca.cert };
}

/** One config-reloader process. */
export interface Reloader {
  port: number;
  proc: ChildProcess;
  /** Everything it logged so far (JSON lines). */
  logs(): string;
  /** Parsed log lines with msg === `msg`. */
  logged(msg: string): Record<string, unknown>[];
  /** GET a path over HTTPS, trusting the test CA. */
  get(path: string): Promise<{ status: number; body: string }>;
  /** SIGTERM and wait for exit (graceful); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash); resolves when gone. */
  kill(): Promise<void>;
}

export interface ReloaderOptions {
  owner: string;
  certs: TestCerts;
  args?: string[];
  env?: Record<string, string>;
  /** Wait for /readyz (default true). */
  waitReady?: boolean;
  port?: number;
}

/** Start config-reloader; stopped (SIGKILL if needed) on teardown. */
export async function startReloader(t: TeardownHost, o: ReloaderOptions): Promise<Reloader> {
  const port = o.port ?? (await freePort());
  const args = [
    join(repoRoot, 'src/main.ts'),
    '--kubeconfig', testKubeconfigPath(),
    '--cert-dir', o.certs.dir,
    '--port', String(port),
    '--bind-address', '127.0.0.1',
    '--namespace-selector', `${OWNER_LABEL}=${o.owner}`,
    '--namespace', `cr-self-${o.owner}`,
    '--log-level', 'debug',
    ...(o.args ?? []),
  ];
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, POD_NAME: `reloader-${o.owner}-${randomBytes(2).toString('hex')}`, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((res, rej) => {
      const req = request({ host: '127.0.0.1', port, path, ca: o.certs.caPem, servername: 'localhost', timeout: 5000 }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', rej);
      req.end();
    });
  const r: Reloader = {
    port,
    proc,
    logs: () => out,
    logged: (msg) =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === msg),
    get,
    stop: async () => {
      if (!gone) proc.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (!gone) proc.kill('SIGKILL');
      await exited;
    },
  };
  t.teardown(async () => {
    if (gone) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  if (o.waitReady ?? true) {
    await waitFor(
      `config-reloader ${o.owner} /readyz`,
      async () => {
        if (gone) throw new Error(`config-reloader exited early:\n${out.slice(-2000)}`);
        return (await get('/readyz')).status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  }
  return r;
}

/** Register a MutatingWebhookConfiguration for the owner's namespaces, deleted on teardown. */
export async function registerWebhook(t: TeardownHost, owner: string, port: number, caPem: string): Promise<string> {
  const { admission } = clients();
  const name = `config-reloader-e2e-${owner}`;
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [podWebhook({ port, caPem, namespaceSelector: { matchLabels: { [OWNER_LABEL]: owner } } })],
    },
  });
  t.teardown(async () => {
    try {
      await admission.deleteMutatingWebhookConfiguration({ name });
    } catch (e) {
      if (apiStatus(e) !== 404) throw e;
    }
  });
  return name;
}

/**
 * A namespace owned by `owner` (covered by its webhook). With `reloader`,
 * also waits until that instance's namespace watch has selected it, so the
 * test's first pod cannot race the watch.
 */
export async function ownedNamespace(t: TeardownHost, owner: string, prefix: string, reloader?: Reloader, labels: Record<string, string> = {}): Promise<string> {
  const ns = await createTestNamespace(t, { prefix, labels: { [OWNER_LABEL]: owner, ...labels } });
  if (reloader) {
    await waitFor(`config-reloader watching ${ns}`, async () => !(await reloader.get(`/explain/deployment/${ns}/-`)).body.includes('not watched'), {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
  }
  return ns;
}

/** A short unique owner id. */
export function newOwner(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}
