/**
 * Restarts, leader changes and flapping config: changes made while
 * config-reloader was down reload exactly once; nothing else restarts; only
 * the leader patches; a Secret rewritten 100 times does not create 100
 * ReplicaSets.
 */
import t from 'tap';
import { clients, waitFor } from '../harness/cluster-env.ts';
import { freePort, makeCerts, newOwner, ownedNamespace, registerWebhook, startReloader } from '../harness/reloader.ts';
import { expectedConfigMapHash, expectedEnvName, expectedSecretHash } from '../helpers/expected-hash.ts';
import { holds, putConfigMap, replicaSets, settled, templateEnv, waitForReplicaSets } from '../helpers/rollouts.ts';

const { core, apps, coordination } = clients();
const certs = await makeCerts(t);
const AUTO = { 'reloader.stakater.com/auto': 'true' };
const CM = (n: string) => expectedEnvName('CONFIGMAP', n);

async function deployment(ns: string, name: string, annotations: Record<string, string>, cm: string, secret?: string) {
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name, annotations },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [{ name: 'main', image: 'registry.example/app:1', volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }], ...(secret ? { envFrom: [{ secretRef: { name: secret } }] } : {}) }],
            volumes: [{ name: 'cfg', configMap: { name: cm } }],
          },
        },
      },
    },
  });
  return waitForReplicaSets(ns, name, 1);
}


async function podStamped(ns: string, app: string, env: string) {
  return waitFor(`a stamped pod of ${app}`, async () =>
    (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` })).items.find((p) => p.spec?.containers[0]?.env?.some((e) => e.name === env)),
  );
}

t.test('stopped, changed, started: exactly one rollout; started again: none; freshly annotated: none', async (t) => {
  const owner = newOwner('rs');
  const port = await freePort();
  const args = ['--debounce', '200ms'];
  let r = await startReloader(t, { owner, certs, port, args });
  await registerWebhook(t, owner, port, certs.caPem);
  const ns = await ownedNamespace(t, owner, 'rs-restart', r);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await deployment(ns, 'web', AUTO, 'cfg');
  await podStamped(ns, 'web', CM('cfg'));

  t.equal(await r.stop(), 0, 'stopped gracefully');
  await putConfigMap(ns, 'cfg', { v: '2' });
  r = await startReloader(t, { owner, certs, port, args });
  await waitForReplicaSets(ns, 'web', 2);
  t.equal(templateEnv(await settled(ns, 'web'))[CM('cfg')], expectedConfigMapHash({ v: '2' }), 'caught the change made while down');
  await holds('exactly two ReplicaSets', async () => (await replicaSets(ns, 'web')).length === 2, 2000);

  t.equal(await r.stop(), 0);
  r = await startReloader(t, { owner, certs, port, args });
  await holds('no rollout after a restart with nothing changed', async () => (await replicaSets(ns, 'web')).length === 2, 3000);

  // a Deployment that gets the annotation only now: its pods predate it, nothing changed → no rollout
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg2' }, data: { v: '1' } } });
  await deployment(ns, 'late', {}, 'cfg2');
  await apps.patchNamespacedDeployment({ namespace: ns, name: 'late', body: [{ op: 'add', path: '/metadata/annotations', value: AUTO }] });
  await holds('freshly annotated Deployment: no rollout', async () => (await replicaSets(ns, 'late')).length === 1, 3000);
  await r.stop();
});

t.test('HA: only the leader patches; kill it and the other takes over and catches a change made in between', async (t) => {
  const owner = newOwner('ha');
  const selfNs = `cr-self-${owner}`;
  await core.createNamespace({ body: { metadata: { name: selfNs } } });
  t.teardown(() => core.deleteNamespace({ name: selfNs }).catch(() => undefined));
  const args = ['--enable-ha', '--debounce', '200ms', '--min-reload-interval', '0'];
  const a = await startReloader(t, { owner, certs, args, env: { POD_NAME: 'replica-a' } });
  const leaseName = await waitFor('a Lease held by replica-a', async () => {
    const leases = await coordination.listNamespacedLease({ namespace: selfNs });
    return leases.items.find((l) => l.spec?.holderIdentity === 'replica-a')?.metadata?.name;
  });
  const b = await startReloader(t, { owner, certs, args, env: { POD_NAME: 'replica-b' } });
  await registerWebhook(t, owner, a.port, certs.caPem);
  const ns = await ownedNamespace(t, owner, 'ha', b);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await deployment(ns, 'web', AUTO, 'cfg');
  await podStamped(ns, 'web', CM('cfg'));

  await putConfigMap(ns, 'cfg', { v: '2' });
  await waitForReplicaSets(ns, 'web', 2);
  t.equal(a.logged('reloaded').length, 1, 'the leader reloaded');
  t.equal(b.logged('reloaded').length, 0, 'the follower did not');

  await a.kill();
  await putConfigMap(ns, 'cfg', { v: '3' });
  await waitFor('replica-b leads', async () => (await coordination.readNamespacedLease({ namespace: selfNs, name: leaseName })).spec?.holderIdentity === 'replica-b', { timeoutMs: 40_000 });
  await waitForReplicaSets(ns, 'web', 3, 40_000);
  t.equal(templateEnv(await settled(ns, 'web'))[CM('cfg')], expectedConfigMapHash({ v: '3' }), 'the new leader caught the change made in between');
  t.equal(b.logged('reloaded').length, 1, 'once');
  await holds('three ReplicaSets', async () => (await replicaSets(ns, 'web')).length === 3, 2000);

  t.equal(await b.stop(), 0);
  const lease = await coordination.readNamespacedLease({ namespace: selfNs, name: leaseName });
  t.notOk(lease.spec?.holderIdentity, 'the Lease is released on graceful shutdown');
});

t.test('a Secret rewritten 100 times in 10 s: rollouts bounded by the minimum interval', async (t) => {
  const owner = newOwner('fl');
  const r = await startReloader(t, { owner, certs, args: ['--debounce', '100ms', '--min-reload-interval', '3s', '--max-reloads-per-second', '1'] });
  await registerWebhook(t, owner, r.port, certs.caPem);
  const ns = await ownedNamespace(t, owner, 'flap', r);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' }, data: { v: '1' } } });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'flappy' }, data: { n: Buffer.from('0').toString('base64') } } });
  await deployment(ns, 'victim', AUTO, 'cfg', 'flappy');
  await podStamped(ns, 'victim', expectedEnvName('SECRET', 'flappy'));
  const t0 = Date.now();
  for (let i = 1; i <= 100; i++) {
    const s = await core.readNamespacedSecret({ namespace: ns, name: 'flappy' });
    s.data = { n: Buffer.from(String(i)).toString('base64') };
    await core.replaceNamespacedSecret({ namespace: ns, name: 'flappy', body: s });
    const due = t0 + i * 100;
    if (Date.now() < due) await new Promise((res) => setTimeout(res, due - Date.now())); // pacing the writer, not waiting on the system
  }
  const elapsed = Date.now() - t0;
  // the last value must land, once the interval allows
  await waitFor('final hash in the template', async () => templateEnv(await settled(ns, 'victim'))[expectedEnvName('SECRET', 'flappy')] === expectedSecretHash({ n: Buffer.from('100') }), { timeoutMs: 20_000 });
  const rs = (await replicaSets(ns, 'victim')).length - 1;
  const bound = Math.ceil(elapsed / 3000) + 1;
  t.ok(rs >= 1 && rs <= bound, `${rs} rollouts for 100 writes in ${elapsed} ms (bound ${bound})`);
  await r.stop();
});
