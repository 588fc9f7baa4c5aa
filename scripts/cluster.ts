/**
 * `npm run cluster`: start one test control plane for a person (etcd,
 * kube-apiserver, kube-controller-manager on loopback; see
 * test/harness/control-plane.ts), print how to use it, and stop everything on
 * Ctrl-C (or SIGTERM/SIGHUP). Building the binaries the first time takes
 * about 6 minutes; later starts take a few seconds.
 *
 * Pass --keep-logs DIR to keep the components' logs after it stops.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { startControlPlane } from '../test/harness/control-plane.ts';
import { KUBECONFIG_ENV, KUBECTL_ENV, NODE_ENV } from '../test/harness/cluster-env.ts';

function usage(): never {
  process.stderr.write('usage: node scripts/cluster.ts [--keep-logs DIR]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let logDir: string | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--keep-logs') logDir = args[++i] ?? usage();
  else if (a.startsWith('--keep-logs=')) logDir = a.slice('--keep-logs='.length);
  else if (a === '-h' || a === '--help') {
    process.stdout.write('usage: node scripts/cluster.ts [--keep-logs DIR]\n');
    process.exit(0);
  } else usage();
}
if (logDir) {
  logDir = resolve(logDir);
  mkdirSync(logDir, { recursive: true });
}

let stopRequested: NodeJS.Signals | undefined;
let wake: () => void = () => {};
const stopSignal = new Promise<void>((res) => (wake = res));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    stopRequested ??= sig;
    wake();
  });
}

const cp = await startControlPlane({ verbose: true, ...(logDir ? { logDir } : {}) });
const kubectlLine = cp.kubectlPath
  ? `kubectl: ${cp.kubectlPath}\n  alias kubectl=${cp.kubectlPath}`
  : 'kubectl: not built (KUBEBUILDER_ASSETS has none)';
process.stdout.write(
  [
    '',
    `Control plane ready in ${(cp.readyMs / 1000).toFixed(1)} s: ${cp.server}`,
    '',
    'In another shell:',
    `  export KUBECONFIG=${cp.kubeconfigPath}`,
    `  ${kubectlLine}`,
    '',
    'To run tests against this cluster instead of starting one per run:',
    `  export ${KUBECONFIG_ENV}=${cp.kubeconfigPath} ${NODE_ENV}=${cp.nodeName}${cp.kubectlPath ? ` ${KUBECTL_ENV}=${cp.kubectlPath}` : ''}`,
    '',
    `Logs: ${cp.logDir}${logDir ? '' : ' (removed on stop; --keep-logs DIR keeps them)'}`,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'),
);

// The components' process handles are unref'd: keep this process alive
// until a signal arrives or a component dies.
const keepAlive = setInterval(() => {}, 1 << 30);
const died = await Promise.race([stopSignal.then(() => undefined), cp.died]);
clearInterval(keepAlive);
if (died) process.stderr.write(`\ncontrol-plane component died: ${died}\n`);
process.stderr.write(`\nstopping${stopRequested ? ` (${stopRequested})` : ''}...\n`);
await cp.stop();
process.stderr.write('stopped\n');
process.exitCode = died ? 1 : 0;
