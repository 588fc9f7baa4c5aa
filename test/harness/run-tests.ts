/**
 * The test runner `npm test` calls: builds (or reuses) the control-plane
 * binaries, starts ONE control plane shared by every e2e test file, runs tap
 * with the given arguments and the cluster's coordinates in the environment,
 * exits with tap's exit code, and always stops the control plane (also on
 * SIGINT, SIGTERM, SIGHUP; if this process is killed outright, the control
 * plane's janitor cleans up).
 *
 *   node test/harness/run-tests.ts [tap args...]
 *
 * If CONFIG_RELOADER_TEST_KUBECONFIG is already set (e.g. from `npm run
 * cluster` in another terminal) that cluster is used and nothing is started.
 * CONFIG_RELOADER_TEST_VERBOSE=1 shows each start-up step;
 * CONFIG_RELOADER_TEST_LOG_DIR=DIR keeps etcd/kube-apiserver/
 * kube-controller-manager logs there after the run.
 *
 * Running only e2e files yields no coverage (they load no src file in the tap
 * process); pass --allow-empty-coverage (or --disable-coverage) then.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { KUBECONFIG_ENV, KUBECTL_ENV, NODE_ENV } from './cluster-env.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tapBin = join(repoRoot, 'node_modules/.bin/tap');
/** After forwarding a signal, how long tap gets to wind down before SIGKILL. */
const TAP_GRACE_MS = 15_000;

const SIGNAL_EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

function log(msg: string): void {
  process.stderr.write(`[run-tests] ${msg}\n`);
}

function killGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // ESRCH: nothing left in the group
  }
}

/**
 * After tap exits, end whatever is left in its process group (a test process
 * tap abandoned, or one a test leaked): SIGTERM, then SIGKILL after 5 s.
 */
async function sweepGroup(pgid: number): Promise<void> {
  if (!killGroup(pgid, 'SIGTERM')) return;
  log('tap left processes behind; stopping them');
  const deadline = Date.now() + 5_000;
  while (killGroup(pgid, 0 as unknown as NodeJS.Signals)) {
    if (Date.now() >= deadline) {
      killGroup(pgid, 'SIGKILL');
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<number> {
  const tapArgs = process.argv.slice(2);
  let cp: ControlPlane | undefined;
  let tap: ChildProcess | undefined;
  let signalled: NodeJS.Signals | undefined;

  // Installed before the (slow) start so that Ctrl-C during start-up still
  // stops what was started.
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = sig;
    log(`${sig}: stopping`);
    if (tap?.pid !== undefined && tap.exitCode === null && tap.signalCode === null) {
      // tap runs in its own process group (a terminal's Ctrl-C reaches only
      // us): pass the signal to the whole group, tap and its test processes.
      const pgid = tap.pid;
      killGroup(pgid, sig);
      const t = setTimeout(() => killGroup(pgid, 'SIGKILL'), TAP_GRACE_MS);
      t.unref();
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  const env: NodeJS.ProcessEnv = { ...process.env };
  try {
    if (process.env[KUBECONFIG_ENV]) {
      log(`using the running cluster of ${KUBECONFIG_ENV}=${process.env[KUBECONFIG_ENV]}`);
    } else {
      // CONFIG_RELOADER_TEST_VERBOSE=1 prints each start-up step;
      // CONFIG_RELOADER_TEST_LOG_DIR=DIR keeps the components' logs (e.g. in CI).
      const logDir = process.env.CONFIG_RELOADER_TEST_LOG_DIR;
      if (logDir) mkdirSync(logDir, { recursive: true });
      cp = await startControlPlane({
        verbose: process.env.CONFIG_RELOADER_TEST_VERBOSE === '1',
        ...(logDir ? { logDir: resolve(logDir) } : {}),
      });
      log(`control plane ready in ${(cp.readyMs / 1000).toFixed(1)} s at ${cp.server} (logs: ${cp.logDir})`);
      if (signalled) return SIGNAL_EXIT[signalled] ?? 1;
      env[KUBECONFIG_ENV] = cp.kubeconfigPath;
      env[NODE_ENV] = cp.nodeName;
      if (cp.kubectlPath) env[KUBECTL_ENV] = cp.kubectlPath;
      // Anything that falls back to $KUBECONFIG talks to the test cluster,
      // never to a real cluster of the person running the tests.
      env.KUBECONFIG = cp.kubeconfigPath;
      void cp.died.then((msg) => log(`control-plane component died during the tests: ${msg}`));
    }
    // tap's bin is a #!/usr/bin/env node script: run it with this Node (24).
    env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ''}`;
    // detached: own process group, so that signals and the final sweep reach
    // every test process tap started, not only tap.
    const child = spawn(process.execPath, [tapBin, ...tapArgs], { stdio: 'inherit', env, cwd: repoRoot, detached: true });
    tap = child;
    if (child.pid !== undefined) cp?.trackProcessGroup(child.pid);
    const code = await new Promise<number>((res) => {
      child.once('exit', (c, s) => res(c ?? (s ? (SIGNAL_EXIT[s] ?? 1) : 1)));
      child.once('error', (err) => {
        log(`cannot run tap: ${err.message}`);
        res(1);
      });
    });
    if (child.pid !== undefined) await sweepGroup(child.pid);
    if (signalled) return SIGNAL_EXIT[signalled] ?? 1;
    return code;
  } catch (err) {
    log(`${(err as Error).stack ?? String(err)}`);
    return signalled ? (SIGNAL_EXIT[signalled] ?? 1) : 1;
  } finally {
    if (cp) {
      const t = Date.now();
      await cp.stop();
      log(`control plane stopped in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
  }
}

process.exitCode = await main();
