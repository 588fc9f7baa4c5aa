/**
 * Proves the test control plane against real cluster state: the controllers
 * run (Deployment → ReplicaSet → Pod, DaemonSet → Pod on the one Node), RBAC
 * is enforced, and ServiceAccount tokens from the TokenRequest API
 * authenticate. Pods stay Pending (no scheduler, no kubelet), which is fine.
 */
import t from 'tap';
import type { V1OwnerReference, V1PodSpec } from '@kubernetes/client-node';
import {
  apiStatus,
  clients,
  createTestNamespace,
  kubeConfig,
  kubeConfigForToken,
  kubectlPath,
  nodeName,
  KUBECONFIG_ENV,
  testKubeconfigPath,
  waitFor,
} from '../harness/cluster-env.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const c = clients();
const labels = { app: 'cp-test' };
// Never pulled: no kubelet runs.
const podSpec: V1PodSpec = { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] };
const ownedBy = (refs: V1OwnerReference[] | undefined, uid: string | undefined): boolean =>
  !!uid && (refs ?? []).some((r) => r.uid === uid && r.controller === true);
// Controllers react within a second here; 60 s bounds a slow CI machine.
const CONTROLLER_TIMEOUT_MS = 60_000;

t.test('a Deployment gets a ReplicaSet and a Pod', async (t) => {
  const namespace = await createTestNamespace(t, { prefix: 'cp-deploy' });
  const dep = await c.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'web', labels },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } },
    },
  });
  const rs = await waitFor(
    'the ReplicaSet of the Deployment',
    async () => {
      const list = await c.apps.listNamespacedReplicaSet({ namespace });
      return list.items.find((r) => ownedBy(r.metadata?.ownerReferences, dep.metadata?.uid));
    },
    { timeoutMs: CONTROLLER_TIMEOUT_MS },
  );
  t.match(rs.metadata?.name, /^web-[a-z0-9]+$/, 'ReplicaSet named after the Deployment');
  const pod = await waitFor(
    'a Pod of the ReplicaSet',
    async () => {
      const list = await c.core.listNamespacedPod({ namespace });
      return list.items.find((p) => ownedBy(p.metadata?.ownerReferences, rs.metadata?.uid));
    },
    { timeoutMs: CONTROLLER_TIMEOUT_MS },
  );
  t.equal(pod.status?.phase, 'Pending', 'no kubelet: the pod stays Pending');
  t.equal(pod.metadata?.labels?.['pod-template-hash'], rs.metadata?.labels?.['pod-template-hash']);
  t.equal(pod.spec?.serviceAccountName, 'default', 'ServiceAccount admission ran');
});

t.test('a DaemonSet gets a Pod for the Node', async (t) => {
  const namespace = await createTestNamespace(t, { prefix: 'cp-ds' });
  const node = await c.core.readNode({ name: nodeName() });
  t.same(node.spec?.taints ?? [], [], 'the Node has no taints');
  const ds = await c.apps.createNamespacedDaemonSet({
    namespace,
    body: {
      metadata: { name: 'agent', labels },
      spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } },
    },
  });
  const pod = await waitFor(
    'a Pod of the DaemonSet',
    async () => {
      const list = await c.core.listNamespacedPod({ namespace });
      return list.items.find((p) => ownedBy(p.metadata?.ownerReferences, ds.metadata?.uid));
    },
    { timeoutMs: CONTROLLER_TIMEOUT_MS },
  );
  // The DaemonSet controller pins its pod to the node with node affinity on metadata.name.
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const pinned = terms.flatMap((term) => term.matchFields ?? []).flatMap((f) => f.values ?? []);
  t.same(pinned, [nodeName()], 'pod pinned to the Node');
});

t.test('RBAC is enforced and ServiceAccount tokens authenticate', async (t) => {
  const namespace = await createTestNamespace(t, { prefix: 'cp-sa' });
  await c.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'robot' } } });
  const tr = await c.core.createNamespacedServiceAccountToken({
    namespace,
    name: 'robot',
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const token = tr.status?.token;
  t.ok(token, 'TokenRequest returned a token');
  const asRobot = clients(kubeConfigForToken(token!, namespace));
  // Authenticated (not 401) but not authorised (403): no RoleBinding yet.
  const denied = await asRobot.core.listNamespacedConfigMap({ namespace }).then(
    () => 200,
    (err: unknown) => apiStatus(err),
  );
  t.equal(denied, 403, 'a ServiceAccount without a RoleBinding is forbidden');
  await c.rbac.createNamespacedRole({
    namespace,
    body: { metadata: { name: 'read-cm' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] },
  });
  await c.rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'robot-read-cm' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-cm' },
      subjects: [{ kind: 'ServiceAccount', name: 'robot', namespace }],
    },
  });
  // RBAC's authorizer reads from an informer: the binding takes effect within milliseconds.
  const list = await waitFor('the RoleBinding to take effect', () =>
    asRobot.core.listNamespacedConfigMap({ namespace }),
  );
  t.ok(list.items.some((cm) => cm.metadata?.name === 'kube-root-ca.crt'), 'root CA ConfigMap published');
});

t.test('the built kubectl talks to the cluster', async (t) => {
  const { stdout } = await promisify(execFile)(kubectlPath(), [
    '--kubeconfig',
    testKubeconfigPath(),
    'get',
    'node',
    nodeName(),
    '-o',
    'jsonpath={.metadata.name}',
  ]);
  t.equal(stdout, nodeName());
});

t.test('cluster-env fails clearly, not silently, without the shared cluster', async (t) => {
  const saved = process.env[KUBECONFIG_ENV];
  delete process.env[KUBECONFIG_ENV];
  t.teardown(() => {
    if (saved !== undefined) process.env[KUBECONFIG_ENV] = saved;
  });
  t.throws(() => kubeConfig(), { message: /CONFIG_RELOADER_TEST_KUBECONFIG is not set: .*npm test/ });
});
