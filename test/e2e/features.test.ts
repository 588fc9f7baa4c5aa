/**
 * Reloader's optional behaviours, end to end: reload on create and on delete,
 * pause-period, CronJob → Job, Job → recreate, alerts, --webhook-url, named
 * lists on the watcher side, and the namespace selector.
 */
import t from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import { clients, createTestNamespace, waitFor } from '../harness/cluster-env.ts';
import { makeCerts, newOwner, OWNER_LABEL, ownedNamespace, registerWebhook, startReloader } from '../harness/reloader.ts';
import { expectedConfigMapHash, expectedEnvName } from '../helpers/expected-hash.ts';
import { holds, putConfigMap, replicaSets, settled, templateEnv, waitForReplicaSets } from '../helpers/rollouts.ts';

const { core, apps, batch } = clients();
const certs = await makeCerts(t);
const AUTO = { 'reloader.stakater.com/auto': 'true' };
const CM = (n: string) => expectedEnvName('CONFIGMAP', n);

/** A local HTTP sink that records JSON bodies (alerts, --webhook-url). */
async function sink(t: Tap) {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let b = '';
    req.on('data', (d: Buffer) => (b += d.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(b) as Record<string, unknown>);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/hook`, bodies };
}
type Tap = { teardown(fn: () => unknown): void };

const podSpec = (cm: string) => ({
  containers: [{ name: 'main', image: 'registry.example/app:1', volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] }],
  volumes: [{ name: 'cfg', configMap: { name: cm, optional: true } }],
});

async function deployment(ns: string, name: string, annotations: Record<string, string>, cm: string) {
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: { metadata: { name, annotations }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: podSpec(cm) } } },
  });
  return waitForReplicaSets(ns, name, 1);
}


const owner = newOwner('ft');
const alerts = await sink(t);
const reloader = await startReloader(t, {
  owner,
  certs,
  args: ['--reload-on-create', '--reload-on-delete', '--debounce', '200ms', '--min-reload-interval', '0'],
  env: { ALERT_ON_RELOAD: 'true', ALERT_SINK: 'webhook', ALERT_WEBHOOK_URL: alerts.url },
});
await registerWebhook(t, owner, reloader.port, certs.caPem);

t.test('--reload-on-create and --reload-on-delete; an alert per reload', async (t) => {
  const ns = await ownedNamespace(t, owner, 'ft-create', reloader);
  await deployment(ns, 'waits', AUTO, 'later');
  // its pod must exist first: a pod admitted after the ConfigMap appears starts with it (and is stamped so)
  await waitFor('a pod', async () => (await core.listNamespacedPod({ namespace: ns })).items[0]);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'later' }, data: { v: '1' } } });
  await waitForReplicaSets(ns, 'waits', 2);
  t.equal(templateEnv(await settled(ns, 'waits'))[CM('later')], expectedConfigMapHash({ v: '1' }), 'created → reloaded');
  await waitFor('an alert', () => alerts.bodies.find((b) => b.name === 'waits' && b.namespace === ns));
  t.match(alerts.bodies.find((b) => b.name === 'waits'), { kind: 'Deployment', text: /reloaded for ConfigMap later/ });

  const before = (await settled(ns, 'waits')).metadata?.generation ?? 0;
  await core.deleteNamespacedConfigMap({ namespace: ns, name: 'later' });
  // Without the env var the template equals revision 1 again, so the
  // Deployment controller scales the first ReplicaSet back up (no third one).
  const d = await waitFor('env var removed', async () => {
    const x = await settled(ns, 'waits');
    return CM('later') in templateEnv(x) ? undefined : x;
  });
  t.equal(d.metadata?.generation, before + 1, 'deleted → one template change removing the env var');
});

t.test('pause-period: the Deployment is paused after a reload, then resumed', async (t) => {
  const ns = await ownedNamespace(t, owner, 'ft-pause', reloader);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await deployment(ns, 'paused', { ...AUTO, 'deployment.reloader.stakater.com/pause-period': '3s' }, 'cfg');
  await putConfigMap(ns, 'cfg', { v: '2' });
  const p = await waitFor('paused', async () => {
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'paused' });
    return d.spec?.paused ? d : undefined;
  });
  t.ok(p.metadata?.annotations?.['deployment.reloader.stakater.com/paused-at'], 'paused-at recorded on the object');
  t.equal(templateEnv(p)[CM('cfg')], expectedConfigMapHash({ v: '2' }));
  const r = await waitFor('resumed', async () => {
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'paused' });
    return !d.spec?.paused ? d : undefined;
  }, { timeoutMs: 20_000 });
  t.notOk(r.metadata?.annotations?.['deployment.reloader.stakater.com/paused-at'], 'paused-at removed');
  await waitForReplicaSets(ns, 'paused', 2);
});

t.test('CronJob: its job template is patched and a Job is created from it', async (t) => {
  const ns = await ownedNamespace(t, owner, 'ft-cron', reloader);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await batch.createNamespacedCronJob({
    namespace: ns,
    body: { metadata: { name: 'nightly', annotations: AUTO }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { ...podSpec('cfg'), restartPolicy: 'Never' } } } } } },
  });
  await waitFor('the CronJob cached', async () => (await reloader.get(`/explain/cronjob/${ns}/nightly`)).status === 200);
  await putConfigMap(ns, 'cfg', { v: '2' });
  const job = await waitFor('a Job created from the CronJob', async () => (await batch.listNamespacedJob({ namespace: ns })).items[0]);
  t.equal(job.metadata?.ownerReferences?.[0]?.name, 'nightly');
  t.equal(job.metadata?.annotations?.['cronjob.kubernetes.io/instantiate'], 'manual');
  t.equal(Object.fromEntries((job.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]))[CM('cfg')], expectedConfigMapHash({ v: '2' }));
  const cj = await batch.readNamespacedCronJob({ namespace: ns, name: 'nightly' });
  t.equal(cj.spec?.jobTemplate.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === CM('cfg'))?.value, expectedConfigMapHash({ v: '2' }));
});

t.test('Job: recreated with the new hash', async (t) => {
  const ns = await ownedNamespace(t, owner, 'ft-job', reloader);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  const created = await batch.createNamespacedJob({
    namespace: ns,
    body: { metadata: { name: 'migrate', annotations: AUTO }, spec: { template: { spec: { ...podSpec('cfg'), restartPolicy: 'Never' } } } },
  });
  await waitFor('the Job cached', async () => (await reloader.get(`/explain/job/${ns}/migrate`)).status === 200);
  // Its pod must exist before the change: a pod the Job controller creates
  // only after it is stamped with v2, and then nothing is out of date (seen
  // in CI: the pod came late, and rightly no reload followed).
  await waitFor('a pod of the Job', async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: 'job-name=migrate' })).items.length > 0);
  await putConfigMap(ns, 'cfg', { v: '2' });
  const job = await waitFor('the Job recreated', async () => {
    const j = await batch.readNamespacedJob({ namespace: ns, name: 'migrate' }).catch(() => undefined);
    return j && j.metadata?.uid !== created.metadata?.uid ? j : undefined;
  });
  t.equal(job.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === CM('cfg'))?.value, expectedConfigMapHash({ v: '2' }));
});

t.test('named lists on the watcher side: a named, unreferenced ConfigMap reloads', async (t) => {
  const ns = await ownedNamespace(t, owner, 'ft-named', reloader);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'flags-blue' }, data: { on: 'no' } } });
  await deployment(ns, 'named', { 'configmap.reloader.stakater.com/reload': 'flags-.*' }, 'cfg');
  await putConfigMap(ns, 'cfg', { v: '2' });
  await holds('referenced but not named: no rollout', async () => (await replicaSets(ns, 'named')).length === 1, 2000);
  await putConfigMap(ns, 'flags-blue', { on: 'yes' });
  await waitForReplicaSets(ns, 'named', 2);
  t.equal(templateEnv(await settled(ns, 'named'))[CM('flags-blue')], expectedConfigMapHash({ on: 'yes' }));
});

t.test('namespace selector: an unlabelled namespace is not watched until labelled', async (t) => {
  const ns = await createTestNamespace(t, { prefix: 'ft-sel' });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await deployment(ns, 'outside', AUTO, 'cfg');
  await putConfigMap(ns, 'cfg', { v: '2' });
  await holds('not selected: no rollout', async () => (await replicaSets(ns, 'outside')).length === 1, 2000);
  await core.patchNamespace({ name: ns, body: [{ op: 'add', path: `/metadata/labels/${OWNER_LABEL.replace('/', '~1')}`, value: owner }] });
  await waitFor('selected', async () => !(await reloader.get(`/explain/deployment/${ns}/outside`)).body.includes('not watched'));
  await putConfigMap(ns, 'cfg', { v: '3' });
  await waitForReplicaSets(ns, 'outside', 2);
  t.equal(templateEnv(await settled(ns, 'outside'))[CM('cfg')], expectedConfigMapHash({ v: '3' }));
});

t.test('--webhook-url: the reload is POSTed there instead of patching', async (t) => {
  const hook = await sink(t);
  const owner2 = newOwner('fw');
  const r = await startReloader(t, { owner: owner2, certs, args: ['--webhook-url', hook.url, '--debounce', '200ms'] });
  const ns = await ownedNamespace(t, owner2, 'ft-hook', r);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await deployment(ns, 'hooked', AUTO, 'cfg');
  await waitFor('cached', async () => (await r.get(`/explain/deployment/${ns}/hooked`)).status === 200);
  await putConfigMap(ns, 'cfg', { v: '2' });
  const body = await waitFor('a POST to the webhook URL', () => hook.bodies.find((b) => b.name === 'hooked'));
  t.match(body, { kind: 'Deployment', namespace: ns, resources: [{ kind: 'ConfigMap', name: 'cfg', hash: expectedConfigMapHash({ v: '2' }) }] });
  t.equal((await settled(ns, 'hooked')).metadata?.generation, 1, 'the Deployment is not patched');
  await r.stop();
});
