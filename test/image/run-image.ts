/**
 * Run the built image against a real test control plane, the way a cluster
 * would run it, and check that it works. Called by test/image/build-and-run.sh
 * after `buildah bud`; usable on its own:
 *
 *   node test/image/run-image.ts --image localhost/config-reloader:test
 *
 * 1. The image's config: non-root USER 65532:65532, WORKDIR /app, ENTRYPOINT
 *    ["node", "--lite-mode", "dist/src/main.js"] in exec form, the memory
 *    settings (NODE_OPTIONS, malloc tunables) in its Env, no CMD left from
 *    the base.
 * 2. Start a control plane (test/harness/control-plane.ts), issue a CA and a
 *    serving certificate for 127.0.0.1 with our certs module, and give the
 *    container its kubeconfig and tls.crt/tls.key in folders owned by 65532,
 *    mounted read-only at /kube and /certs (as a Secret volume would be).
 * 3. `buildah run --isolation chroot` the image's ENTRYPOINT (read from the
 *    image, not restated here) with --kubeconfig /kube/config --cert-dir
 *    /certs --port <free port> --bind-address 127.0.0.1. chroot isolation
 *    shares the host's network namespace: everything stays on loopback.
 * 4. Poll https://127.0.0.1:<port>/healthz, then /readyz (caches synced), with
 *    the test CA (bounded); check the server process runs as uid/gid 65532.
 * 5. Behaviour through the image: a registered webhook stamps a new pod with
 *    its ConfigMap's hash; changing the ConfigMap patches the Deployment's
 *    template with the new hash.
 * 6. SIGTERM the server: it must exit 0 within a bound; then nothing of the
 *    container may be left running, the working container is removed and the
 *    control plane stopped. Exit code 0 only if every check passed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createCA, createServingCert } from '../../src/certs/issue.ts';
import { freePort, startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { podWebhook } from '../harness/webhook-config.ts';
import { expectedConfigMapHash, expectedEnvName } from '../helpers/expected-hash.ts';

const RUN_UID = 65532;
const RUN_GID = 65532;
// The memory flags are part of the product: bench/README.md measures with them.
const WANT_ENTRYPOINT = ['node', '--lite-mode', 'dist/src/main.js'];
const WANT_ENV = ['NODE_OPTIONS=--max-old-space-size=96 --max-semi-space-size=1', 'MALLOC_ARENA_MAX=2', 'MALLOC_TRIM_THRESHOLD_=131072', 'MALLOC_MMAP_THRESHOLD_=16384'];
/** Bound for the whole run, control plane start-up included. */
const OVERALL_TIMEOUT_MS = 240_000;
const READY_TIMEOUT_MS = 60_000;
const REACT_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

function usage(code: number): never {
  (code ? process.stderr : process.stdout).write('usage: node test/image/run-image.ts --image NAME [--verbose]\n');
  process.exit(code);
}

let image = '';
let verbose = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a === '--image') image = argv[++i] ?? usage(2);
  else if (a.startsWith('--image=')) image = a.slice('--image='.length);
  else if (a === '--verbose') verbose = true;
  else if (a === '-h' || a === '--help') usage(0);
  else usage(2);
}
if (!image) usage(2);

const t0 = Date.now();
const say = (msg: string): void => {
  process.stderr.write(`[run-image +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
};
let passed = 0;
const pass = (msg: string): void => {
  passed++;
  say(`ok: ${msg}`);
};
function check(cond: boolean, msg: string, detail = ''): void {
  if (!cond) throw new Error(`${msg}${detail ? `: ${detail}` : ''}`);
  pass(msg);
}

// ------------------------------------------------------------ clean-up ---
const containerName = `cr-image-test-${randomBytes(4).toString('hex')}`;
let containerCreated = false;
let runner: ChildProcess | undefined;
let runnerExit: Promise<number | string> | undefined;
let cp: ControlPlane | undefined;
let workDir: string | undefined;
let output = '';
/** The runner's exit code or signal, once it has exited. */
let exitedWith: number | string | undefined;

/** Every process in the runner's process group (buildah, its chroot helper, node). */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...; comm may hold spaces or parentheses
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Signal the runner's process group, only while some process of it is left (never a reused id). */
function killGroup(signal: NodeJS.Signals): void {
  if (runner?.pid === undefined || groupPids(runner.pid).length === 0) return;
  try {
    process.kill(-runner.pid, signal);
  } catch {
    // already gone
  }
}

function removeContainerSync(): void {
  if (!containerCreated) return;
  spawnSync('buildah', ['rm', containerName], { stdio: 'ignore', timeout: 30_000 });
  containerCreated = false;
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (runner && runnerExit) {
      if (exitedWith === undefined) {
        killGroup('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), 5_000);
        await runnerExit;
        clearTimeout(timer);
      }
      killGroup('SIGKILL');
    }
    removeContainerSync();
    await cp?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}
// Last resort if we exit without cleanup() (an uncaught error): synchronous.
process.on('exit', () => {
  killGroup('SIGKILL');
  removeContainerSync();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    say(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  say(`FAILED: no result after ${OVERALL_TIMEOUT_MS / 1000} s`);
  void cleanup().finally(() => process.exit(1));
}, OVERALL_TIMEOUT_MS);

// ------------------------------------------------------------- helpers ---
function buildah(args: string[]): string {
  const r = spawnSync('buildah', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`buildah ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}


function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', timeout: 3_000 }, (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (d: string) => (body += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

/** A folder only RUN_UID can read, holding `files` (as a Secret volume for runAsUser would). */
function ownedDir(path: string, files: Record<string, string>): void {
  mkdirSync(path, { mode: 0o700 });
  for (const [name, content] of Object.entries(files)) {
    const file = join(path, name);
    writeFileSync(file, content, { mode: 0o600 });
    chownSync(file, RUN_UID, RUN_GID);
  }
  chownSync(path, RUN_UID, RUN_GID);
  chmodSync(path, 0o700);
}

const tail = (s: string, n = 3000): string => (s.length > n ? `…${s.slice(-n)}` : s);

// ---------------------------------------------------------------- main ---
async function main(): Promise<void> {
  // 1. The image's config.
  const inspected = JSON.parse(buildah(['inspect', '--type', 'image', image])) as {
    OCIv1: { architecture?: string; config?: { User?: string; WorkingDir?: string; Entrypoint?: string[]; Cmd?: string[] | null; Env?: string[] } };
  };
  const config = inspected.OCIv1.config ?? {};
  check(config.User === `${RUN_UID}:${RUN_GID}`, `USER is ${RUN_UID}:${RUN_GID} (non-root)`, `got ${JSON.stringify(config.User)}`);
  check(config.WorkingDir === '/app', 'WORKDIR is /app', `got ${JSON.stringify(config.WorkingDir)}`);
  check(isDeepStrictEqual(config.Entrypoint, WANT_ENTRYPOINT), `ENTRYPOINT is ${JSON.stringify(WANT_ENTRYPOINT)} (exec form)`, `got ${JSON.stringify(config.Entrypoint)}`);
  for (const e of WANT_ENV) check((config.Env ?? []).includes(e), `Env has ${e}`, `got ${JSON.stringify(config.Env)}`);
  check(!config.Cmd || config.Cmd.length === 0, 'no CMD inherited from the base image', `got ${JSON.stringify(config.Cmd)}`);
  const entrypoint = config.Entrypoint!;

  // 2. Control plane, certificates, the container's files.
  say('starting a control plane');
  cp = await startControlPlane({ verbose });
  say(`control plane ready in ${(cp.readyMs / 1000).toFixed(1)} s at ${cp.server}`);
  const ca = await createCA({ commonName: 'image-test-ca', validityDays: 2 });
  const serving = await createServingCert({ ca, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
  workDir = mkdtempSync(join(tmpdir(), 'cr-image-test-'));
  chmodSync(workDir, 0o755);
  const certDir = join(workDir, 'certs');
  const kubeDir = join(workDir, 'kube');
  ownedDir(certDir, { 'tls.crt': serving.cert, 'tls.key': serving.key });
  ownedDir(kubeDir, { config: readFileSync(cp.kubeconfigPath, 'utf8') });

  // 3. Run the entrypoint.
  buildah(['from', '--pull=never', '--name', containerName, image]);
  containerCreated = true;
  const port = await freePort();
  const args = [
    'run', '--isolation', 'chroot',
    '--volume', `${certDir}:/certs:ro`,
    '--volume', `${kubeDir}:/kube:ro`,
    containerName, '--',
    ...entrypoint,
    '--kubeconfig', '/kube/config',
    '--cert-dir', '/certs',
    '--port', String(port),
    '--bind-address', '127.0.0.1',
    '--debounce', '200ms',
    '--min-reload-interval', '0',
  ];
  say(`buildah ${args.join(' ')}`);
  // Own process group: buildah, its chroot helper and node are stopped together.
  const child = spawn('buildah', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  runner = child;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  runnerExit = new Promise((res) => {
    child.once('exit', (code, signal) => res((exitedWith = code ?? signal ?? 'unknown')));
    child.once('error', (err) => res((exitedWith = `spawn error: ${err.message}`)));
  });
  const alive = (): void => {
    if (exitedWith !== undefined) throw new Error(`the container exited (${exitedWith})`);
  };

  // 4. Health, readiness, identity.
  const caPem = ca.cert;
  /** Poll `fn` until true (a throw counts as "not yet"), failing at once if the container exits. */
  const until = async (what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      alive();
      try {
        if (await fn()) return;
      } catch (err) {
        last = err;
      }
      if (Date.now() >= deadline) {
        throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await until('/healthz', async () => (await httpsGet(port, '/healthz', caPem)).status === 200, READY_TIMEOUT_MS);
  pass(`GET https://127.0.0.1:${port}/healthz -> 200 with the test CA`);
  await until('/readyz', async () => (await httpsGet(port, '/readyz', caPem)).status === 200, READY_TIMEOUT_MS);
  pass('GET /readyz -> 200 (caches synced from the control plane, certificate loaded)');

  const nodePids = groupPids(child.pid!).filter((pid) => {
    try {
      // argv[0] is node (the chroot helper's argv[0] is buildah-chroot-exec); comm may be a thread name
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return basename(cmd[0] ?? '') === 'node' && cmd.includes('dist/src/main.js');
    } catch {
      return false;
    }
  });
  check(nodePids.length === 1, 'one node process runs dist/src/main.js', `found ${JSON.stringify(nodePids)}`);
  const nodePid = nodePids[0]!;
  const status = readFileSync(`/proc/${nodePid}/status`, 'utf8');
  const ids = (key: string) => status.match(new RegExp(`^${key}:\\s+(.*)$`, 'm'))?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  check(
    ids('Uid').every((id) => id === RUN_UID) && ids('Gid').every((id) => id === RUN_GID),
    `the server runs as uid/gid ${RUN_UID}`,
    `Uid ${ids('Uid')}, Gid ${ids('Gid')}`,
  );

  // 5. Behaviour: webhook stamp, then a reload.
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const ns = `image-test-${randomBytes(3).toString('hex')}`;
  const label = { 'config-reloader.test/image': ns };
  await core.createNamespace({ body: { metadata: { name: ns, labels: label } } });
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: `config-reloader-${ns}` },
      webhooks: [podWebhook({ port, caPem, namespaceSelector: { matchLabels: label } })],
    },
  });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'app-config' }, data: { greeting: 'hello' } } });
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'web', annotations: { 'reloader.stakater.com/auto': 'true' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [{ name: 'main', image: 'registry.example/app:1', volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }] }],
            volumes: [{ name: 'cfg', configMap: { name: 'app-config' } }],
          },
        },
      },
    },
  });
  const envName = expectedEnvName('CONFIGMAP', 'app-config');
  const podEnv = async (): Promise<string | undefined> => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    return pods.items[0]?.spec?.containers[0]?.env?.find((e) => e.name === envName)?.value ?? (pods.items[0] ? '(none)' : undefined);
  };
  let stamped: string | undefined;
  await until('a pod of the Deployment', async () => (stamped = await podEnv()) !== undefined, REACT_TIMEOUT_MS);
  check(stamped === expectedConfigMapHash({ greeting: 'hello' }), `the webhook stamped the new pod with ${envName}`, `got ${stamped}`);

  const cm = await core.readNamespacedConfigMap({ namespace: ns, name: 'app-config' });
  cm.data = { greeting: 'bonjour' };
  await core.replaceNamespacedConfigMap({ namespace: ns, name: 'app-config', body: cm });
  const want = expectedConfigMapHash({ greeting: 'bonjour' });
  await until(
    'the Deployment template to carry the new hash',
    async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
      return d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === envName)?.value === want;
    },
    REACT_TIMEOUT_MS,
  );
  pass('a ConfigMap change patched the Deployment template with the new hash');

  // 6. Graceful stop, nothing left behind.
  say(`SIGTERM to the server (pid ${nodePid})`);
  process.kill(nodePid, 'SIGTERM');
  const stopped = await Promise.race([runnerExit, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_TIMEOUT_MS).unref())]);
  check(stopped === 0, `SIGTERM: the server exited 0 within ${STOP_TIMEOUT_MS / 1000} s`, `got ${stopped}`);
  const left = groupPids(child.pid!);
  check(left.length === 0, 'no process of the container is left', JSON.stringify(left));
  if (verbose) process.stderr.write(tail(output, 20_000) + '\n');
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  say(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
  if (output) process.stderr.write(`--- container output (tail) ---\n${tail(output)}\n---\n`);
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
const strays = runner?.pid !== undefined ? groupPids(runner.pid) : [];
if (strays.length) {
  failed = true;
  say(`FAILED: stray processes after clean-up: ${strays.join(' ')}`);
}
say(`${passed} checks passed${failed ? ', 1 failed' : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exitCode = failed ? 1 : 0;
