/**
 * The benchmarks' own control plane (test/harness/control-plane.ts: etcd,
 * kube-apiserver and optionally kube-controller-manager on loopback, with
 * `--kube-api-qps=1000 --kube-api-burst=2000` for the controllers), plus
 * cleanup that also runs on Ctrl-C / SIGTERM: registered stoppers run in
 * reverse order, then the process exits. (The control plane's own janitor
 * still kills its components if this process dies by SIGKILL.)
 */
import { startControlPlane, type ControlPlane } from '../../test/harness/control-plane.ts';
import { Kube } from './kube.ts';

const stoppers: (() => Promise<unknown> | unknown)[] = [];
let exiting = false;

/** Run `fn` at cleanup (normal end, error, or signal), last registered first. */
export function onCleanup(fn: () => Promise<unknown> | unknown): void {
  stoppers.push(fn);
}

export async function cleanup(): Promise<void> {
  while (stoppers.length > 0) {
    const fn = stoppers.pop()!;
    try {
      await fn();
    } catch (e) {
      process.stderr.write(`cleanup: ${(e as Error).message}\n`);
    }
  }
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\n${sig}: cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

/**
 * Run a benchmark's main: cleanup afterwards whatever happens; exit code 1 on
 * an error.
 */
export async function main(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    process.stderr.write(`\nbenchmark failed: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

export interface BenchCluster {
  cp: ControlPlane;
  kube: Kube;
}

/** Start a control plane (stopped at cleanup) and an admin client for it. */
export async function startCluster(opts: { controllerManager: boolean; verbose?: boolean; logDir?: string }): Promise<BenchCluster> {
  const cp = await startControlPlane({
    controllerManager: opts.controllerManager,
    verbose: opts.verbose ?? true,
    ...(opts.logDir ? { logDir: opts.logDir } : {}),
  });
  onCleanup(() => cp.stop());
  const kube = new Kube({ server: cp.server, caPem: cp.caPem, certPem: cp.adminCertPem, keyPem: cp.adminKeyPem });
  onCleanup(() => kube.close());
  void cp.died.then((msg) => {
    if (!exiting) process.stderr.write(`control plane component died: ${msg}\n`);
  });
  return { cp, kube };
}

/** Create a namespace (idempotent). */
export async function createNamespace(kube: Kube, name: string, labels: Record<string, string> = {}): Promise<void> {
  await kube.request('POST', '/api/v1/namespaces', { body: { metadata: { name, labels } }, okStatuses: [409] });
}
