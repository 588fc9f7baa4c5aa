/**
 * The watcher end to end: config changes roll out the workloads that use
 * them, exactly once, asserted on the cluster (templates, ReplicaSets, pods).
 */
import t from 'tap';
import { clients, waitFor } from '../harness/cluster-env.ts';
import { makeCerts, newOwner, ownedNamespace, registerWebhook, startReloader } from '../harness/reloader.ts';
import { expectedConfigMapHash, expectedEnvName, expectedSecretHash } from '../helpers/expected-hash.ts';
import { holds, putConfigMap, replicaSets, settled, templateEnv, waitForReplicaSets } from '../helpers/rollouts.ts';

const { core, apps } = clients();
const owner = newOwner('rl');
const certs = await makeCerts(t);
// debounce 1 s: long enough for "a burst of changes" below, short for the suite
const reloader = await startReloader(t, { owner, certs, args: ['--debounce', '1s', '--min-reload-interval', '0'] });
await registerWebhook(t, owner, reloader.port, certs.caPem);

const CM = (n: string) => expectedEnvName('CONFIGMAP', n);
const SEC = (n: string) => expectedEnvName('SECRET', n);
const AUTO = { 'reloader.stakater.com/auto': 'true' };

function template(app: string, cms: string[], secrets: string[] = []) {
  return {
    metadata: { labels: { app } },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'registry.example/app:1',
          envFrom: secrets.map((name) => ({ secretRef: { name } })),
          volumeMounts: cms.map((n, i) => ({ name: `cfg${i}`, mountPath: `/etc/cfg${i}` })),
        },
      ],
      volumes: cms.map((name, i) => ({ name: `cfg${i}`, configMap: { name } })),
    },
  };
}

async function deployment(ns: string, name: string, annotations: Record<string, string>, cms: string[], secrets: string[] = []) {
  await apps.createNamespacedDeployment({ namespace: ns, body: { metadata: { name, annotations }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: template(name, cms, secrets) } } });
  return waitForReplicaSets(ns, name, 1);
}


t.test('ConfigMap data change: exactly one new ReplicaSet, its template carries the new hash; metadata-only change: none', async (t) => {
  const ns = await ownedNamespace(t, owner, 'rl-cm', reloader);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'app-config' }, data: { greeting: 'hello' } } });
  await deployment(ns, 'web', AUTO, ['app-config']);
  await putConfigMap(ns, 'app-config', { greeting: 'bonjour' });
  const rs = await waitForReplicaSets(ns, 'web', 2);
  const d = await settled(ns, 'web');
  t.equal(templateEnv(d)[CM('app-config')], expectedConfigMapHash({ greeting: 'bonjour' }), 'template has the new hash');
  const newest = rs.find((r) => r.metadata?.annotations?.['deployment.kubernetes.io/revision'] === '2');
  t.equal(templateEnv(newest as never)[CM('app-config')], expectedConfigMapHash({ greeting: 'bonjour' }), 'the new ReplicaSet carries it');
  const events = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'reason=Reloaded' });
  t.ok(events.items.some((e) => e.involvedObject.name === 'web' && e.message?.includes(expectedConfigMapHash({ greeting: 'bonjour' }))), 'a Reloaded event names the new hash');

  await putConfigMap(ns, 'app-config', { greeting: 'bonjour' }, { labels: { touched: 'yes' }, annotations: { note: 'metadata only' } });
  await holds('two ReplicaSets', async () => (await replicaSets(ns, 'web')).length === 2, 3000);
  t.pass('metadata-only change: no rollout');
});

t.test('Secret change; StatefulSet and DaemonSet templates patched', async (t) => {
  const ns = await ownedNamespace(t, owner, 'rl-kinds', reloader);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'creds' }, data: { token: Buffer.from('one').toString('base64') } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'shared' }, data: { v: '1' } } });
  await deployment(ns, 'api', AUTO, [], ['creds']);
  await apps.createNamespacedStatefulSet({ namespace: ns, body: { metadata: { name: 'db', annotations: AUTO }, spec: { serviceName: 'db', replicas: 1, selector: { matchLabels: { app: 'db' } }, template: template('db', ['shared']) } } });
  await apps.createNamespacedDaemonSet({ namespace: ns, body: { metadata: { name: 'agent', annotations: AUTO }, spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent', ['shared']) } } });
  // pods exist and are stamped before the change (the controllers made them)
  await waitFor('db and agent pods', async () => (await core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata?.labels?.app !== 'api').length >= 2);

  const sec = await core.readNamespacedSecret({ namespace: ns, name: 'creds' });
  sec.data = { token: Buffer.from('two').toString('base64') };
  await core.replaceNamespacedSecret({ namespace: ns, name: 'creds', body: sec });
  await waitForReplicaSets(ns, 'api', 2);
  t.equal(templateEnv(await settled(ns, 'api'))[SEC('creds')], expectedSecretHash({ token: Buffer.from('two') }));

  await putConfigMap(ns, 'shared', { v: '2' });
  const want = expectedConfigMapHash({ v: '2' });
  const sts = await waitFor('StatefulSet template patched', async () => {
    const s = await apps.readNamespacedStatefulSet({ namespace: ns, name: 'db' });
    return templateEnv(s)[CM('shared')] === want ? s : undefined;
  });
  t.equal(sts.metadata?.generation, 2, 'StatefulSet: one template change');
  const ds = await waitFor('DaemonSet template patched', async () => {
    const s = await apps.readNamespacedDaemonSet({ namespace: ns, name: 'agent' });
    return templateEnv(s)[CM('shared')] === want ? s : undefined;
  });
  t.equal(ds.metadata?.generation, 2, 'DaemonSet: one template change');
});

t.test('five changes to two ConfigMaps within the debounce window: one new ReplicaSet', async (t) => {
  const ns = await ownedNamespace(t, owner, 'rl-burst', reloader);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'a' }, data: { v: '0' } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'b' }, data: { v: '0' } } });
  await deployment(ns, 'burst', AUTO, ['a', 'b']);
  const t0 = Date.now();
  await putConfigMap(ns, 'a', { v: '1' });
  await putConfigMap(ns, 'b', { v: '1' });
  await putConfigMap(ns, 'a', { v: '2' });
  await putConfigMap(ns, 'b', { v: '2' });
  await putConfigMap(ns, 'a', { v: '3' });
  t.ok(Date.now() - t0 < 1000, `five writes in ${Date.now() - t0} ms, inside the 1 s window`);
  await waitForReplicaSets(ns, 'burst', 2);
  const d = await settled(ns, 'burst');
  t.equal(templateEnv(d)[CM('a')], expectedConfigMapHash({ v: '3' }));
  t.equal(templateEnv(d)[CM('b')], expectedConfigMapHash({ v: '2' }));
  await holds('exactly two ReplicaSets', async () => (await replicaSets(ns, 'burst')).length === 2, 2500);
});

t.test('pods that predate config-reloader (no stamps, nothing in the template): a change seen while running reloads, as Reloader would', async (t) => {
  // a namespace our webhook does not cover: its pods get no stamps, like pods created before the switch-over
  const ns = await ownedNamespace(t, owner, 'rl-legacy', reloader);
  await clients().admission.deleteMutatingWebhookConfiguration({ name: `config-reloader-e2e-${owner}` }).catch(() => undefined);
  t.teardown(() => registerWebhook({ teardown: () => undefined }, owner, reloader.port, certs.caPem).catch(() => undefined));
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'legacy' }, data: { v: '1' } } });
  await deployment(ns, 'old', AUTO, ['legacy']);
  const pods = await waitFor('a pod', async () => (await core.listNamespacedPod({ namespace: ns })).items[0]);
  t.same((pods.spec?.containers[0]?.env ?? []).filter((e) => e.name.startsWith('STAKATER_')), [], 'the pod carries no stamp');
  await holds('one ReplicaSet (no restart at adoption)', async () => (await replicaSets(ns, 'old')).length === 1, 2000);
  await putConfigMap(ns, 'legacy', { v: '2' });
  await waitForReplicaSets(ns, 'old', 2);
  t.equal(templateEnv(await settled(ns, 'old'))[CM('legacy')], expectedConfigMapHash({ v: '2' }));
});

t.test('annotations strategy is idempotent', async (t) => {
  const owner2 = newOwner('rla');
  const r2 = await startReloader(t, { owner: owner2, certs, args: ['--reload-strategy', 'annotations', '--debounce', '200ms', '--min-reload-interval', '0'] });
  const ns = await ownedNamespace(t, owner2, 'rl-ann', r2);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await deployment(ns, 'ann', AUTO, ['cfg']);
  await putConfigMap(ns, 'cfg', { v: '2' });
  await waitForReplicaSets(ns, 'ann', 2);
  const d = await settled(ns, 'ann');
  const ann = JSON.parse(d.spec?.template.metadata?.annotations?.['reloader.stakater.com/last-reloaded-from'] ?? '{}');
  t.match(ann, { type: 'CONFIGMAP', name: 'cfg', namespace: ns, hash: expectedConfigMapHash({ v: '2' }), containerRefs: ['main'] });
  t.same(templateEnv(d), {}, 'no env var in this strategy');
  // restart: nothing to do, and no second write
  t.equal(await r2.stop(), 0);
  const r3 = await startReloader(t, { owner: owner2, certs, args: ['--reload-strategy', 'annotations', '--debounce', '200ms'] });
  await holds('still two ReplicaSets', async () => (await replicaSets(ns, 'ann')).length === 2, 2000);
  t.equal((await settled(ns, 'ann')).metadata?.generation, d.metadata?.generation, 'no write after restart');
  await r3.stop();
});

t.test('search + match, exclude and ignore decide on the watcher side too', async (t) => {
  const ns = await ownedNamespace(t, owner, 'rl-search', reloader);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'matched', annotations: { 'reloader.stakater.com/match': 'true' } }, data: { v: '1' } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'unmatched' }, data: { v: '1' } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'ignored', annotations: { 'reloader.stakater.com/ignore': 'true' } }, data: { v: '1' } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'excluded' }, data: { v: '1' } } });
  await deployment(ns, 'search', { 'reloader.stakater.com/search': 'true' }, ['matched', 'unmatched']);
  await deployment(ns, 'auto', { ...AUTO, 'configmaps.exclude.reloader.stakater.com/reload': 'excluded' }, ['ignored', 'excluded']);
  await putConfigMap(ns, 'unmatched', { v: '2' });
  await putConfigMap(ns, 'ignored', { v: '2' });
  await putConfigMap(ns, 'excluded', { v: '2' });
  await holds('no rollouts for unmatched, ignored, excluded', async () => (await replicaSets(ns, 'search')).length === 1 && (await replicaSets(ns, 'auto')).length === 1, 3000);
  await putConfigMap(ns, 'matched', { v: '2' });
  await waitForReplicaSets(ns, 'search', 2);
  t.equal(templateEnv(await settled(ns, 'search'))[CM('matched')], expectedConfigMapHash({ v: '2' }));
  t.notOk(CM('unmatched') in templateEnv(await settled(ns, 'search')));
});
