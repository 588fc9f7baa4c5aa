/**
 * A real Kubernetes control plane for the tests: etcd, kube-apiserver and
 * kube-controller-manager (built by test/control-plane/build.sh) started on
 * free loopback ports, with RBAC, a ServiceAccount token signer, and an admin
 * identity in `system:masters` (client certificate). No scheduler, no kubelet:
 * pods stay Pending, which is all the webhook and watcher tests need (the API
 * server calls admission webhooks when the controllers create pods).
 *
 * Cleanup is layered so that no process or temp folder outlives a test run:
 *   1. `stop()` SIGTERMs every component's process group, SIGKILLs after a
 *      bound, then removes the temp folder;
 *   2. a synchronous `process.on('exit')` hook does the same with SIGKILL if
 *      the owner exits without calling `stop()`;
 *   3. a tiny detached bash "janitor" reads the components' process-group ids
 *      from a pipe; when the pipe closes without a "done" line (the parent was
 *      killed, even with SIGKILL) it kills those groups and removes the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPair, randomBytes, sign as cryptoSign } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import forge from 'node-forge';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The script that builds (or finds) the control-plane binaries. */
export const buildScript = join(repoRoot, 'test/control-plane/build.sh');

/**
 * kube-controller-manager controllers we run. Beyond the workload controllers:
 * garbage-collector (owner references), namespace (a deleted namespace would
 * otherwise stay Terminating forever), serviceaccount (creates the "default"
 * ServiceAccount without which the ServiceAccount admission plugin forbids
 * every pod) and root-ca-certificate-publisher (the kube-root-ca.crt ConfigMap
 * that every pod's projected token volume references, as in a real cluster).
 */
export const CONTROLLERS = [
  'deployment-controller',
  'replicaset-controller',
  'statefulset-controller',
  'daemonset-controller',
  'garbage-collector-controller',
  'job-controller',
  'cronjob-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
] as const;

/** The name of the one Node object the control plane creates (untainted, so DaemonSets get pods). */
export const NODE_NAME = 'test-node-1';
/** Issuer of ServiceAccount tokens (any URL works; the API server only compares it). */
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ControlPlaneOptions {
  /** Folder with etcd, kube-apiserver, kube-controller-manager, kubectl; default: what build.sh prints. */
  binDir?: string;
  /** Start kube-controller-manager (default true when the binary exists). */
  controllerManager?: boolean;
  /** Give each controller its own ServiceAccount identity, as real clusters do (default false: one system:masters identity). */
  useServiceAccountCredentials?: boolean;
  /** Bound for the whole start-up, in ms (default 90 s: a cold start takes about 4 s here). */
  startTimeoutMs?: number;
  /** Write the components' logs here and keep them after stop(); default: inside the temp folder, removed by stop(). */
  logDir?: string;
  /** Print progress lines to stderr (default false). */
  verbose?: boolean;
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string;
  /** Admin kubeconfig (system:masters, client certificate, CA inline); works with KubeConfig.loadFromFile and kubectl. */
  kubeconfigPath: string;
  /** The built kubectl, or undefined if the bin folder has none. */
  kubectlPath: string | undefined;
  binDir: string;
  /** PEM of the CA that signed the API server's serving certificate and every client certificate. */
  caPem: string;
  /** PEM of the CA's private key, for tests that need to mint more client certificates. */
  caKeyPem: string;
  adminCertPem: string;
  adminKeyPem: string;
  serviceAccountIssuer: string;
  /** Name of the untainted Node object. */
  nodeName: string;
  /** Whether kube-controller-manager runs (Deployments get ReplicaSets and pods only then). */
  controllerManager: boolean;
  /** The temp folder holding data, certificates and (by default) logs; removed by stop(). */
  dir: string;
  /** Folder with etcd.log, kube-apiserver.log, kube-controller-manager.log. */
  logDir: string;
  /** Milliseconds from the call to startControlPlane until everything was ready. */
  readyMs: number;
  /**
   * Resolves (never rejects) with a message and the log tail when a component
   * exits on its own, i.e. not through stop(); stays pending otherwise.
   */
  died: Promise<string>;
  /**
   * Have the janitor also kill this process group if the owner dies without
   * stop() (the test runner registers tap's group so no test process outlives
   * it). stop() itself does not touch it.
   */
  trackProcessGroup(pgid: number): void;
  /** Kill every component (SIGTERM, then SIGKILL after a bound) and remove the temp folder. Idempotent. */
  stop(): Promise<void>;
}

/** SIGTERM grace for each component before SIGKILL (each exits within ~50 ms here, stopped in reverse start order). */
const STOP_GRACE_MS = 8_000;
const POLL_MS = 100;

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  exitInfo: string | undefined;
}

/**
 * Run build.sh (a no-op when the binaries are cached; honours
 * KUBEBUILDER_ASSETS) and return the folder it prints on its last line. Its
 * progress goes to our stderr.
 */
export async function resolveBinDir(): Promise<string> {
  const child = spawn('bash', [buildScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  const status = await new Promise<string | number>((res) => {
    child.once('exit', (code, signal) => res(code ?? signal ?? 'unknown'));
    child.once('error', (err) => res(err.message));
  });
  if (status !== 0) {
    throw new Error(`${buildScript} failed (${status}); see its messages above`);
  }
  const lines = stdout.trim().split('\n');
  const dir = lines[lines.length - 1]?.trim();
  if (!dir || !existsSync(join(dir, 'kube-apiserver'))) {
    throw new Error(`${buildScript} printed no folder with kube-apiserver (got ${JSON.stringify(dir)})`);
  }
  return dir;
}

/**
 * Poll `check` every `intervalMs` until it returns a value other than
 * undefined/false, or throw after `timeoutMs` with `what` in the message. A
 * check that throws counts as "not yet" (its last error is reported).
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = POLL_MS }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Start etcd, kube-apiserver and kube-controller-manager on free loopback
 * ports, write an admin kubeconfig, wait for /readyz, create an untainted
 * Node. On any failure everything started so far is stopped before the error
 * (which carries the failing component's log tail) is thrown.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const t0 = Date.now();
  // The start-up bound is counted from when the binaries are there: a cold
  // build (about 6 minutes) must not eat it.
  let deadline = Infinity;
  const say = (msg: string): void => {
    if (opts.verbose) process.stderr.write(`[control-plane +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
  };
  const binDir = opts.binDir ?? (await resolveBinDir());
  deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
  const bin = (name: string): string => join(binDir, name);
  for (const required of ['etcd', 'kube-apiserver']) {
    if (!existsSync(bin(required))) throw new Error(`${bin(required)} does not exist; run ${buildScript}`);
  }
  const hasKcm = existsSync(bin('kube-controller-manager'));
  const runKcm = opts.controllerManager ?? hasKcm;
  if (runKcm && !hasKcm) throw new Error(`${bin('kube-controller-manager')} does not exist`);
  const kubectlPath = existsSync(bin('kubectl')) ? bin('kubectl') : undefined;

  const dir = mkdtempSync(join(tmpdir(), 'config-reloader-cp-'));
  const logDir = opts.logDir ?? dir;
  const procs: Proc[] = [];
  const janitor = startJanitor(dir);

  let stopping: Promise<void> | undefined;
  // Exits during start-up are handled (retried or thrown) by waitReady.
  let started = false;
  let reportDeath: (msg: string) => void = () => {};
  const died = new Promise<string>((res) => (reportDeath = res));
  const killAllSync = (): void => {
    for (const p of procs) killGroup(p.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    janitor.done();
  };
  const onExit = (): void => killAllSync();
  process.on('exit', onExit);

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', onExit);
      // In reverse start order: each exits within ~50 ms of SIGTERM, but
      // an API server whose etcd is already gone retries it until SIGKILL
      // (8 s instead of 0.15 s for the whole stop).
      for (const p of [...procs].reverse()) await stopProc(p);
      rmSync(dir, { recursive: true, force: true });
      janitor.done();
    })();
    return stopping;
  };

  const launch = (name: string, args: string[]): Proc => {
    const logPath = join(logDir, `${name}.log`);
    // Truncated: after a retry, only the new attempt's log is searched for a port conflict.
    const fd = openSync(logPath, 'w');
    let child: ChildProcess;
    try {
      // detached: own process group, so stop() can kill the group and a
      // terminal's Ctrl-C reaches only the test runner, which then stops us.
      child = spawn(bin(name), args, { detached: true, stdio: ['ignore', fd, fd], env: componentEnv() });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) throw new Error(`could not start ${bin(name)}`);
    // The components must not keep the owner alive: a test that forgets
    // stop() then exits, and the 'exit' hook kills them.
    child.unref();
    const proc: Proc = { name, child, pid: child.pid, logPath, exited: Promise.resolve(), exitInfo: undefined };
    proc.exited = new Promise<void>((res) => {
      child.once('exit', (code, signal) => {
        proc.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        if (started && !stopping) reportDeath(`${name} ${proc.exitInfo}\n${logTail(proc)}`);
        res();
      });
      child.once('error', (err) => {
        proc.exitInfo = `failed to start: ${err.message}`;
        res();
      });
    });
    procs.push(proc);
    janitor.track(child.pid);
    say(`started ${name} (pid ${child.pid})`);
    return proc;
  };

  try {
    say(`binaries from ${binDir}; temp folder ${dir}`);
    const pki = await makePki(dir);
    say('certificates ready');

    // etcd: retry on a port taken between our probe and its bind.
    let etcdUrl = '';
    for (let attempt = 1; ; attempt++) {
      const [clientPort, peerPort] = await freePorts(2);
      etcdUrl = `http://127.0.0.1:${clientPort}`;
      const peerUrl = `http://127.0.0.1:${peerPort}`;
      const etcd = launch('etcd', [
        `--data-dir=${join(dir, 'etcd')}`,
        '--name=default',
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        // Test data is thrown away, so fsync buys nothing and slows every
        // write; with this flag the whole control plane is ready in ~4 s.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]);
      const ok = await waitReady(etcd, 'etcd /health', deadline, async () => {
        const body = await httpGet(`${etcdUrl}/health`);
        return body.includes('"health":"true"');
      });
      if (ok) break;
      if (attempt >= 3 || !portConflict(etcd)) throw startError(etcd);
      say('etcd: port conflict, retrying on other ports');
      procs.splice(procs.indexOf(etcd), 1);
      rmSync(join(dir, 'etcd'), { recursive: true, force: true });
    }
    say('etcd healthy');

    let server = '';
    for (let attempt = 1; ; attempt++) {
      const [port] = await freePorts(1);
      server = `https://127.0.0.1:${port}`;
      const apiserver = launch('kube-apiserver', [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        // The default reconciler writes the kubernetes Service's endpoints
        // from the advertise address and refuses loopback.
        '--endpoint-reconciler-type=none',
        `--cert-dir=${join(dir, 'apiserver-certs')}`,
        `--tls-cert-file=${pki.files.servingCert}`,
        `--tls-private-key-file=${pki.files.servingKey}`,
        `--client-ca-file=${pki.files.caCert}`,
        '--authorization-mode=Node,RBAC',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.files.saPub}`,
        `--service-account-signing-key-file=${pki.files.saKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--profiling=false',
      ]);
      const ok = await waitReady(apiserver, 'kube-apiserver /readyz', deadline, async () => {
        const res = await apiCall(server, pki, 'GET', '/readyz');
        return res.status === 200;
      });
      if (ok) break;
      if (attempt >= 3 || !portConflict(apiserver)) throw startError(apiserver);
      say('kube-apiserver: port conflict, retrying on another port');
      procs.splice(procs.indexOf(apiserver), 1);
    }
    say(`kube-apiserver ready at ${server}`);

    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig(server, pki.caPem, pki.adminCertPem, pki.adminKeyPem, 'admin'), {
      mode: 0o600,
    });

    if (runKcm) {
      const kcmKubeconfig = join(dir, 'kube-controller-manager.kubeconfig');
      writeFileSync(kcmKubeconfig, kubeconfig(server, pki.caPem, pki.kcmCertPem, pki.kcmKeyPem, 'kube-controller-manager'), {
        mode: 0o600,
      });
      launch('kube-controller-manager', [
        `--kubeconfig=${kcmKubeconfig}`,
        `--controllers=${CONTROLLERS.join(',')}`,
        '--leader-elect=false',
        // No serving endpoint: nothing scrapes it, and it saves a port and a certificate.
        '--secure-port=0',
        // The default 20 QPS took minutes to create ReplicaSets for 10k Deployments.
        '--kube-api-qps=1000',
        '--kube-api-burst=2000',
        `--service-account-private-key-file=${pki.files.saKey}`,
        `--root-ca-file=${pki.files.caCert}`,
        `--use-service-account-credentials=${opts.useServiceAccountCredentials === true}`,
      ]);
    }

    // One Node, untainted: the NodeTaint admission plugin adds
    // node.kubernetes.io/not-ready:NoSchedule on create and no node lifecycle
    // controller runs to remove it, so DaemonSets would create no pods.
    await createUntaintedNode(server, pki);
    say(`node ${NODE_NAME} created`);

    if (runKcm) {
      // kube-controller-manager has no health endpoint (--secure-port=0); its
      // serviceaccount controller creating default/default proves its
      // informers synced and it writes to the API.
      const kcm = procs.find((p) => p.name === 'kube-controller-manager')!;
      const ok = await waitReady(kcm, 'kube-controller-manager (default ServiceAccount)', deadline, async () => {
        const res = await apiCall(server, pki, 'GET', '/api/v1/namespaces/default/serviceaccounts/default');
        return res.status === 200;
      });
      if (!ok) throw startError(kcm);
      say('kube-controller-manager running');
    }

    const readyMs = Date.now() - t0;
    started = true;
    say(`ready in ${(readyMs / 1000).toFixed(1)} s`);
    return {
      server,
      kubeconfigPath,
      kubectlPath,
      binDir,
      caPem: pki.caPem,
      caKeyPem: pki.caKeyPem,
      adminCertPem: pki.adminCertPem,
      adminKeyPem: pki.adminKeyPem,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      nodeName: NODE_NAME,
      controllerManager: runKcm,
      dir,
      logDir,
      readyMs,
      died,
      trackProcessGroup: (pgid: number) => janitor.track(pgid),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The environment for components: ours minus variables that would point them elsewhere. */
function componentEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.KUBECONFIG;
  delete env.ETCDCTL_ENDPOINTS;
  return env;
}

/**
 * Poll `check` until it is true (ready: returns true), the process exits
 * (returns false) or the deadline passes (throws with the log tail).
 */
async function waitReady(proc: Proc, what: string, deadline: number, check: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    if (proc.exitInfo !== undefined) return false;
    try {
      if (await check()) return true;
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out waiting for ${what}\n${logTail(proc)}`);
    }
    await Promise.race([proc.exited, new Promise((r) => setTimeout(r, POLL_MS))]);
  }
}

function portConflict(proc: Proc): boolean {
  return /address already in use/i.test(readLog(proc));
}

function startError(proc: Proc): Error {
  return new Error(`${proc.name} ${proc.exitInfo ?? 'did not become ready'}\n${logTail(proc)}`);
}

function readLog(proc: Proc): string {
  try {
    return readFileSync(proc.logPath, 'utf8');
  } catch {
    return '';
  }
}

function logTail(proc: Proc, lines = 30): string {
  const tail = readLog(proc).trimEnd().split('\n').slice(-lines).join('\n');
  return `--- last ${lines} lines of ${proc.logPath} ---\n${tail}`;
}

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

function groupAlive(pid: number): boolean {
  return killGroup(pid, 0 as unknown as NodeJS.Signals);
}

async function stopProc(p: Proc): Promise<void> {
  if (!groupAlive(p.pid)) return;
  killGroup(p.pid, 'SIGTERM');
  if (!(await waitForGroupGone(p.pid, STOP_GRACE_MS))) {
    killGroup(p.pid, 'SIGKILL');
    await waitForGroupGone(p.pid, 5_000);
  }
  // Let Node reap the leader (a zombie still counts as a group member).
  await Promise.race([p.exited, new Promise((r) => setTimeout(r, 1_000))]);
}

/** Poll until no process of the group is left; false if `ms` passed first. */
async function waitForGroupGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (groupAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * The janitor: a detached bash process (own process group, so a terminal's
 * Ctrl-C does not reach it) that reads "pgid" lines from a pipe whose only
 * writer is this Node process. On "done" it exits quietly; on EOF without
 * "done" (we died, however) it SIGTERMs each group, newest first, SIGKILLs
 * it after 5 s, and removes the temp folder.
 */
function startJanitor(dir: string): { track(pid: number): void; done(): void } {
  // Groups are stopped one at a time in reverse start order: an API server
  // whose etcd is already gone hangs until SIGKILL.
  const script = `
    trap '' INT HUP
    dir="$1"; groups=()
    while IFS= read -r line; do
      if [ "$line" = done ]; then exit 0; fi
      groups=("$line" "\${groups[@]}")
    done
    # A group counts as gone when only zombies are left: their parent (us,
    # dead) cannot reap them, and PID 1 may take its time.
    alive() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'; }
    for g in "\${groups[@]}"; do
      kill -TERM -- "-$g" 2>/dev/null || continue
      for _ in $(seq 50); do
        alive "$g" || break
        sleep 0.1
      done
      alive "$g" && kill -KILL -- "-$g" 2>/dev/null
    done
    rm -rf -- "$dir"
  `;
  const child = spawn('bash', ['-c', script, 'config-reloader-cp-janitor', dir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  const stdin = child.stdin!;
  // The pipe must not keep the owner's event loop alive.
  (stdin as unknown as { unref?: () => void }).unref?.();
  stdin.on('error', () => {}); // the janitor gone: nothing left to tell it
  let finished = false;
  return {
    track(pid: number) {
      if (!finished) stdin.write(`${pid}\n`);
    },
    done() {
      if (finished) return;
      finished = true;
      stdin.end('done\n');
    },
  };
}

/** Ports free on 127.0.0.1 right now: bind :0 for each (all held at once, so they differ), then release. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((res, rej) => {
          const s = createServer();
          s.once('error', rej);
          s.listen(0, '127.0.0.1', () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** One port free on 127.0.0.1 right now (the usual bind-and-release race is acceptable on loopback). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

function httpGet(url: string): Promise<string> {
  return new Promise((res, rej) => {
    const req = httpRequest(url, { timeout: 2_000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

interface Pki {
  caPem: string;
  caKeyPem: string;
  adminCertPem: string;
  adminKeyPem: string;
  kcmCertPem: string;
  kcmKeyPem: string;
  files: { caCert: string; servingCert: string; servingKey: string; saKey: string; saPub: string };
}

/** A request to the API server as the admin (client certificate). */
function apiCall(
  server: string,
  pki: Pick<Pki, 'caPem' | 'adminCertPem' | 'adminKeyPem'>,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      `${server}${path}`,
      {
        method,
        ca: pki.caPem,
        cert: pki.adminCertPem,
        key: pki.adminKeyPem,
        timeout: 5_000,
        headers: payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) },
      },
      (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (text += c));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end(payload);
  });
}

async function createUntaintedNode(server: string, pki: Pki): Promise<void> {
  const created = await apiCall(server, pki, 'POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: NODE_NAME, labels: { 'kubernetes.io/hostname': NODE_NAME, 'kubernetes.io/os': 'linux' } },
  });
  if (created.status !== 201) throw new Error(`creating Node ${NODE_NAME}: HTTP ${created.status} ${created.body}`);
  const patched = await apiCall(
    server,
    pki,
    'PATCH',
    `/api/v1/nodes/${NODE_NAME}`,
    { spec: { taints: null } },
    'application/merge-patch+json',
  );
  if (patched.status !== 200) throw new Error(`untainting Node ${NODE_NAME}: HTTP ${patched.status} ${patched.body}`);
}

function kubeconfig(server: string, caPem: string, certPem: string, keyPem: string, user: string): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  // JSON is valid YAML; kubectl and @kubernetes/client-node read it.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'config-reloader-test', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
      users: [{ name: user, user: { 'client-certificate-data': b64(certPem), 'client-key-data': b64(keyPem) } }],
      contexts: [{ name: 'config-reloader-test', context: { cluster: 'config-reloader-test', user, namespace: 'default' } }],
      'current-context': 'config-reloader-test',
      preferences: {},
    },
    null,
    2,
  )}\n`;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** RSA-2048 on the libuv thread pool (several keys are generated in parallel). */
async function rsaKey(): Promise<{ pub: string; key: string }> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { pub: publicKey, key: privateKey };
}

const pki = forge.pki as typeof forge.pki & { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };

interface CertSpec {
  cn: string;
  org?: string;
  pub: string;
  /** Issuer; omitted for the self-signed CA. */
  issuer?: { cert: forge.pki.Certificate; key: string };
  selfKey?: string;
  ca?: boolean;
  server?: { dns: string[]; ips: string[] };
  client?: boolean;
}

/** Build an X.509 certificate with forge and sign its TBS with native crypto (SHA-256, RSA). */
function makeCert(spec: CertSpec): { cert: forge.pki.Certificate; pem: string } {
  const cert = pki.createCertificate();
  cert.publicKey = pki.publicKeyFromPem(spec.pub);
  // Positive serial: a leading 0x01 byte keeps the DER INTEGER's sign bit clear.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const now = Date.now();
  // Backdated 1 h against clock skew; 1 year is far beyond any test run.
  cert.validity.notBefore = new Date(now - 3_600_000);
  cert.validity.notAfter = new Date(now + 365 * 86_400_000);
  const subject = [{ name: 'commonName', value: spec.cn }];
  if (spec.org) subject.push({ name: 'organizationName', value: spec.org });
  cert.setSubject(subject);
  cert.setIssuer(spec.issuer ? spec.issuer.cert.subject.attributes : subject);
  const exts: object[] = [{ name: 'subjectKeyIdentifier' }];
  if (spec.ca) {
    exts.push(
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    );
  } else {
    exts.push(
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: spec.server !== undefined, clientAuth: spec.client === true },
    );
  }
  if (spec.server) {
    exts.push({
      name: 'subjectAltName',
      altNames: [...spec.server.dns.map((value) => ({ type: 2, value })), ...spec.server.ips.map((ip) => ({ type: 7, ip }))],
    });
  }
  cert.setExtensions(exts);
  cert.signatureOid = cert.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption!;
  cert.tbsCertificate = pki.getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  const signerKey = spec.issuer ? spec.issuer.key : spec.selfKey!;
  cert.signature = cryptoSign('sha256', tbs, signerKey).toString('binary');
  return { cert, pem: pki.certificateToPem(cert) };
}

/**
 * One CA signs the API server's serving certificate and the client
 * certificates (admin in system:masters; kube-controller-manager), and the
 * API server trusts it as its client CA. Plus the ServiceAccount token key.
 */
async function makePki(dir: string): Promise<Pki> {
  const [caK, servingK, adminK, kcmK, saK] = await Promise.all([rsaKey(), rsaKey(), rsaKey(), rsaKey(), rsaKey()]);
  const ca = makeCert({ cn: 'config-reloader-test-ca', pub: caK.pub, selfKey: caK.key, ca: true });
  const issuer = { cert: ca.cert, key: caK.key };
  const serving = makeCert({
    cn: 'kube-apiserver',
    pub: servingK.pub,
    issuer,
    server: {
      dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      ips: ['127.0.0.1', '10.0.0.1'],
    },
  });
  const admin = makeCert({ cn: 'admin', org: 'system:masters', pub: adminK.pub, issuer, client: true });
  // In system:masters too: without per-controller ServiceAccount credentials
  // the bootstrap system:kube-controller-manager role cannot create
  // ReplicaSets or Pods.
  const kcm = makeCert({
    cn: 'system:kube-controller-manager',
    org: 'system:masters',
    pub: kcmK.pub,
    issuer,
    client: true,
  });
  const files = {
    caCert: join(dir, 'ca.crt'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
  };
  writeFileSync(files.caCert, ca.pem);
  writeFileSync(files.servingCert, serving.pem);
  writeFileSync(files.servingKey, servingK.key, { mode: 0o600 });
  writeFileSync(files.saKey, saK.key, { mode: 0o600 });
  writeFileSync(files.saPub, saK.pub);
  return {
    caPem: ca.pem,
    caKeyPem: caK.key,
    adminCertPem: admin.pem,
    adminKeyPem: adminK.key,
    kcmCertPem: kcm.pem,
    kcmKeyPem: kcmK.key,
    files,
  };
}
