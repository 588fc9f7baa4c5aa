/**
 * The webhook end to end: the real API server calls config-reloader for pods
 * that the real controllers create; we assert the pods' env in the cluster.
 */
import t from 'tap';
import type { V1Pod } from '@kubernetes/client-node';
import { clients, waitFor } from '../harness/cluster-env.ts';
import { makeCerts, newOwner, ownedNamespace, registerWebhook, startReloader, type Reloader } from '../harness/reloader.ts';
import { expectedConfigMapHash, expectedEnvName, expectedSecretHash } from '../helpers/expected-hash.ts';

const { core, apps } = clients();
const owner = newOwner('wh');
const certs = await makeCerts(t);
// a namespace to exclude must exist before the reloader starts (its name is random)
const ignoredNs = await ownedNamespace(t, owner, 'wh-ignored');
const reloader: Reloader = await startReloader(t, { owner, certs, args: ['--namespaces-to-ignore', ignoredNs] });
await registerWebhook(t, owner, reloader.port, certs.caPem);

const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);
const secretBytes = Buffer.from([0xc3, 0x28, 0xff, 0x00, 0x41]); // not valid UTF-8

function podTemplate(app: string, extra: Record<string, unknown> = {}) {
  return {
    metadata: { labels: { app } },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'registry.example/app:1',
          envFrom: [{ secretRef: { name: 'db-credentials' } }],
          env: [{ name: 'LOG_LEVEL', value: 'info' }],
          volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }],
        },
        { name: 'sidecar', image: 'registry.example/sidecar:1' },
      ],
      volumes: [{ name: 'cfg', configMap: { name: 'app.config' } }],
      ...extra,
    },
  };
}

async function seedConfig(ns: string, cmAnnotations: Record<string, string> = {}) {
  await core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: 'app.config', annotations: cmAnnotations }, data: { 'app.yaml': 'port: 8080\n' }, binaryData: { 'logo.png': binary.toString('base64') } },
  });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db-credentials' }, data: { password: secretBytes.toString('base64') } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'feature-flags' }, data: { beta: 'on' } } });
}

async function podsOf(ns: string, app: string, count = 1): Promise<V1Pod[]> {
  return waitFor(
    `${count} pod(s) of ${ns}/${app}`,
    async () => {
      const list = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
      return list.items.length >= count ? list.items : undefined;
    },
    { timeoutMs: 30_000 },
  );
}

const envOf = (pod: V1Pod, container = 0) => Object.fromEntries((pod.spec?.containers[container]?.env ?? []).map((e) => [e.name, e.value]));
const stamps = (pod: V1Pod, container = 0) => Object.keys(envOf(pod, container)).filter((k) => k.startsWith('STAKATER_')).sort();

const cmHash = expectedConfigMapHash({ 'app.yaml': 'port: 8080\n' }, { 'logo.png': binary });
const secretHash = expectedSecretHash({ password: secretBytes });
const CM = expectedEnvName('CONFIGMAP', 'app.config');
const SECRET = expectedEnvName('SECRET', 'db-credentials');

t.test('an auto Deployment: its pods carry the hashes of its ConfigMap (volume, binaryData) and Secret (envFrom, non-UTF-8)', async (t) => {
  const ns = await ownedNamespace(t, owner, 'wh-auto', reloader);
  await seedConfig(ns);
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: { metadata: { name: 'web', annotations: { 'reloader.stakater.com/auto': 'true' } }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: podTemplate('web') } },
  });
  const pods = await podsOf(ns, 'web', 2);
  for (const pod of pods) {
    t.equal(envOf(pod)[CM], cmHash, `${pod.metadata?.name}: ConfigMap hash`);
    t.equal(envOf(pod)[SECRET], secretHash, `${pod.metadata?.name}: Secret hash`);
    t.equal(envOf(pod).LOG_LEVEL, 'info', 'user env kept');
    t.same(stamps(pod, 1), [], 'the sidecar gets nothing');
    t.notOk(stamps(pod).includes(expectedEnvName('CONFIGMAP', 'feature-flags')), 'unreferenced ConfigMap not stamped');
    t.notOk(stamps(pod).includes(expectedEnvName('CONFIGMAP', 'kube-root-ca.crt')), 'the injected service-account volume is not followed');
  }
  const dep = await apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
  t.same(dep.spec?.template.spec?.containers[0]?.env, [{ name: 'LOG_LEVEL', value: 'info' }], 'the template itself is untouched by the webhook');
  t.ok(reloader.logged('admission cache miss').length === 0, 'no cache misses');
});

t.test('a Deployment without annotations: pods untouched', async (t) => {
  const ns = await ownedNamespace(t, owner, 'wh-plain', reloader);
  await seedConfig(ns);
  await apps.createNamespacedDeployment({ namespace: ns, body: { metadata: { name: 'plain' }, spec: { replicas: 1, selector: { matchLabels: { app: 'plain' } }, template: podTemplate('plain') } } });
  const [pod] = await podsOf(ns, 'plain');
  t.same(stamps(pod!), []);
  t.same(pod!.spec?.containers[0]?.env, [{ name: 'LOG_LEVEL', value: 'info' }]);
});

t.test('StatefulSet and DaemonSet pods are stamped by their real controllers', async (t) => {
  const ns = await ownedNamespace(t, owner, 'wh-sts-ds', reloader);
  await seedConfig(ns);
  const annotations = { 'reloader.stakater.com/auto': 'true' };
  await apps.createNamespacedStatefulSet({
    namespace: ns,
    body: { metadata: { name: 'db', annotations }, spec: { serviceName: 'db', replicas: 1, selector: { matchLabels: { app: 'db' } }, template: podTemplate('db') } },
  });
  await apps.createNamespacedDaemonSet({ namespace: ns, body: { metadata: { name: 'agent', annotations }, spec: { selector: { matchLabels: { app: 'agent' } }, template: podTemplate('agent') } } });
  for (const app of ['db', 'agent']) {
    const [pod] = await podsOf(ns, app);
    t.equal(envOf(pod!)[CM], cmHash, `${app}: ConfigMap`);
    t.equal(envOf(pod!)[SECRET], secretHash, `${app}: Secret`);
    t.equal(pod!.metadata?.ownerReferences?.[0]?.kind, app === 'db' ? 'StatefulSet' : 'DaemonSet');
  }
});

t.test('named regex lists, exclude lists, and ignore on the ConfigMap', async (t) => {
  const ns = await ownedNamespace(t, owner, 'wh-named', reloader);
  await seedConfig(ns, { 'reloader.stakater.com/ignore': 'true' });
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: {
        name: 'named',
        annotations: {
          'configmap.reloader.stakater.com/reload': 'feature-.*, app.config',
          'secret.reloader.stakater.com/reload': 'db-.*',
          'secrets.exclude.reloader.stakater.com/reload': 'db-credentials',
        },
      },
      spec: { replicas: 1, selector: { matchLabels: { app: 'named' } }, template: podTemplate('named') },
    },
  });
  const [pod] = await podsOf(ns, 'named');
  t.same(stamps(pod!), [expectedEnvName('CONFIGMAP', 'feature-flags')], 'only the named, unreferenced feature-flags (on containers[0])');
  t.equal(envOf(pod!)[expectedEnvName('CONFIGMAP', 'feature-flags')], expectedConfigMapHash({ beta: 'on' }));
});

t.test('an ignored namespace is left alone', async (t) => {
  await seedConfig(ignoredNs);
  await apps.createNamespacedDeployment({
    namespace: ignoredNs,
    body: { metadata: { name: 'web', annotations: { 'reloader.stakater.com/auto': 'true' } }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: podTemplate('web') } },
  });
  const [pod] = await podsOf(ignoredNs, 'web');
  t.same(stamps(pod!), []);
});

t.test('with config-reloader stopped, pods are still created (failurePolicy Ignore)', async (t) => {
  const ns = await ownedNamespace(t, owner, 'wh-down', reloader);
  await seedConfig(ns);
  t.equal(await reloader.stop(), 0, 'graceful shutdown exits 0');
  const started = Date.now();
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: { metadata: { name: 'web', annotations: { 'reloader.stakater.com/auto': 'true' } }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: podTemplate('web') } },
  });
  const [pod] = await podsOf(ns, 'web');
  t.same(stamps(pod!), [], 'not stamped, but created');
  t.ok(Date.now() - started < 20_000, `created in ${Date.now() - started} ms, without hanging`);
});
