/**
 * What e2e tests import to use the ONE control plane of a test run (started
 * by test/harness/run-tests.ts, or by `npm run cluster` for a person): API
 * clients for it, and a fresh namespace per test that is deleted on teardown.
 *
 * Missing configuration is an error, never a skip: an e2e test that silently
 * skips when run with plain `tap` would hide that it never ran.
 */
import { randomBytes } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { waitFor } from './control-plane.ts';

export { waitFor };

/** Env var naming the shared control plane's admin kubeconfig. */
export const KUBECONFIG_ENV = 'CONFIG_RELOADER_TEST_KUBECONFIG';
/** Env var naming the kubectl built with the control plane. */
export const KUBECTL_ENV = 'CONFIG_RELOADER_TEST_KUBECTL';
/** Env var naming the untainted Node (DaemonSets get one pod, on it). */
export const NODE_ENV = 'CONFIG_RELOADER_TEST_NODE';

const HOW_TO_RUN =
  'e2e tests need the shared test control plane: run them through `npm test` ' +
  '(node test/harness/run-tests.ts [tap args], e.g. `node test/harness/run-tests.ts test/e2e/x.test.ts`), ' +
  'or start one with `npm run cluster` and export the variables it prints';

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: ${HOW_TO_RUN}`);
  return value;
}

/** Path of the admin kubeconfig (system:masters) of the shared control plane; throws if unset. */
export function testKubeconfigPath(): string {
  return requireEnv(KUBECONFIG_ENV);
}

/** A fresh KubeConfig for the shared control plane, as the admin. */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testKubeconfigPath());
  return kc;
}

/** The built kubectl (pass `--kubeconfig testKubeconfigPath()` or KUBECONFIG to it); throws if unset. */
export function kubectlPath(): string {
  return requireEnv(KUBECTL_ENV);
}

/** Name of the untainted Node of the shared control plane. */
export function nodeName(): string {
  return requireEnv(NODE_ENV);
}

/** API clients as the admin. */
export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  admission: AdmissionregistrationV1Api;
  coordination: CoordinationV1Api;
  rbac: RbacAuthorizationV1Api;
}

/** Admin API clients for the shared control plane (built from `kc`, default: a fresh `kubeConfig()`). */
export function clients(kc: KubeConfig = kubeConfig()): Clients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
  };
}

/**
 * A KubeConfig for the same cluster that authenticates with a bearer token
 * (e.g. one from the TokenRequest API, to act as a ServiceAccount).
 */
export function kubeConfigForToken(token: string, namespace = 'default'): KubeConfig {
  const admin = kubeConfig();
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error(`${testKubeconfigPath()} has no current cluster`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'token-user', token }],
    contexts: [{ name: 'token', cluster: cluster.name, user: 'token-user', namespace }],
    currentContext: 'token',
  });
  return kc;
}

/** The HTTP status of an error thrown by @kubernetes/client-node (ApiException.code), if any. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** What createTestNamespace needs of a tap test: only its teardown hook. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

let counter = 0;

/**
 * Create a namespace with a unique name (`prefix-<pid>-<n>-<random>`, a valid
 * DNS label), wait until the serviceaccount controller has created its
 * "default" ServiceAccount (the ServiceAccount admission plugin forbids pods
 * before that), and register `t.teardown` to delete it. Deletion is not
 * awaited to completion: the namespace controller finishes it in the
 * background, and names are never reused.
 */
export async function createTestNamespace(
  t: TeardownHost,
  opts: { prefix?: string; labels?: Record<string, string>; clients?: Clients } = {},
): Promise<string> {
  const { core } = opts.clients ?? clients();
  const prefix = (opts.prefix ?? 'e2e').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'e2e';
  const suffix = `${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;
  // 63: the DNS label limit for namespace names.
  const name = `${prefix.slice(0, 62 - suffix.length)}-${suffix}`.replace(/^-/, '');
  await core.createNamespace({
    body: { metadata: { name, labels: { 'config-reloader.test/e2e': 'true', ...opts.labels } } },
  });
  t.teardown(async () => {
    try {
      await core.deleteNamespace({ name });
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
  });
  // The serviceaccount controller usually creates it within ~100 ms.
  await waitFor(
    `ServiceAccount ${name}/default`,
    async () => {
      try {
        return await core.readNamespacedServiceAccount({ namespace: name, name: 'default' });
      } catch (err) {
        if (apiStatus(err) === 404) return undefined;
        throw err;
      }
    },
    { timeoutMs: 30_000 },
  );
  return name;
}
