import t from 'tap';
import { DEFAULT_ANNOTATIONS } from '../../src/core/annotations.ts';
import type { PolicyOptions } from '../../src/core/policy.ts';
import { Caches } from '../../src/watcher/cache.ts';
import { Controller } from '../../src/watcher/controller.ts';
import type { KubeClient, WatchEvent } from '../../src/watcher/kube-client.ts';
import { Reflector } from '../../src/watcher/reflector.ts';
import { KindStore, MultiIndex } from '../../src/watcher/store.ts';

type Raw = Record<string, unknown>;

/**
 * A KubeClient double: `lists[path]` is what a LIST of that path returns
 * (one page); a watch stays open until aborted, or until `breakWatch(path)`
 * makes it fail (the reflector then relists).
 */
function fakeClient() {
  const lists: Record<string, Raw[]> = {};
  const listCalls: Record<string, number> = {};
  const watchers: Record<string, (e: WatchEvent) => void> = {};
  const breakers: Record<string, () => void> = {};
  const breakWatch = (path: string) => breakers[path]?.();
  const client = {
    async listPage(path: string) {
      listCalls[path] = (listCalls[path] ?? 0) + 1;
      return { items: structuredClone(lists[path] ?? []), resourceVersion: '1' };
    },
    watch(path: string, _q: unknown, onEvent: (e: WatchEvent) => void, signal: AbortSignal) {
      watchers[path] = onEvent;
      return new Promise<void>((resolve, reject) => {
        breakers[path] = () => reject(new Error('connection reset'));
        signal.addEventListener('abort', () => resolve());
      });
    },
    async request() {
      return { items: [] };
    },
  };
  return { client: client as unknown as KubeClient, lists, listCalls, breakWatch, watchers };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

const cm = (ns: string, name: string, data: Record<string, string> = {}): Raw => ({ metadata: { namespace: ns, name }, data });

t.test('KindStore: namespace → name, size, scoped entries', async (t) => {
  const s = new KindStore<number>();
  s.set('a', 'x', 1);
  s.set('a', 'y', 2);
  s.set('b', 'x', 3);
  s.set('a', 'x', 4);
  t.equal(s.size, 3);
  t.equal(s.get('a', 'x'), 4);
  t.equal(s.get('b', 'y'), undefined);
  t.same([...s.entries('a')], [['a', 'x', 4], ['a', 'y', 2]]);
  t.same([...s.values()], [4, 2, 3]);
  t.same([...s.valuesIn('c')], []);
  t.equal(s.delete('a', 'x'), 4);
  t.equal(s.delete('a', 'x'), undefined);
  t.equal(s.delete('a', 'y'), 2);
  t.equal(s.size, 1);
  t.same([...s.entries()], [['b', 'x', 3]]);
});

t.test('MultiIndex: one value kept as is, a Set from the second, insertion order, no duplicates', async (t) => {
  const i = new MultiIndex<{ id: string }>();
  const [a, b, c] = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
  i.add('n', 'r', a);
  i.add('n', 'r', a);
  t.same(i.get('n', 'r'), [a]);
  i.add('n', 'r', b);
  i.add('n', 'r', c);
  t.same(i.get('n', 'r'), [a, b, c]);
  i.remove('n', 'r', a);
  i.remove('n', 'r', c);
  t.same(i.get('n', 'r'), [b]);
  i.add('n', 'r', a);
  t.same(i.get('n', 'r'), [b, a]);
  i.remove('n', 'r', b);
  i.remove('n', 'r', a);
  i.remove('n', 'r', a);
  t.same(i.get('n', 'r'), []);
  t.same(i.get('other', 'r'), []);
});

t.test('reflectors sharing a store: a relist deletes only in its own namespace', async (t) => {
  const { client, lists, listCalls, breakWatch, watchers } = fakeClient();
  const store = new KindStore<string>();
  const deleted: string[] = [];
  const upserts: string[] = [];
  const make = (ns: string) =>
    new Reflector<string>(client, {
      name: `configmaps/${ns}`,
      path: `/api/v1/namespaces/${ns}/configmaps`,
      pageSize: 10,
      store,
      namespace: ns,
      backoffInitialMs: 1,
      backoffMaxMs: 2,
      transform: (raw) => `${(raw.metadata as { name: string }).name}@${JSON.stringify(raw.data)}`,
      onUpsert: (v, old) => upserts.push(`${v}<-${old ?? ''}`),
      onDelete: (old) => deleted.push(old),
    });
  lists['/api/v1/namespaces/a/configmaps'] = [cm('a', 'x'), cm('a', 'y')];
  lists['/api/v1/namespaces/b/configmaps'] = [cm('b', 'z')];
  const ra = make('a');
  const rb = make('b');
  ra.start();
  rb.start();
  await Promise.all([ra.whenSynced(), rb.whenSynced()]);
  t.equal(store.size, 3);
  t.same(upserts.sort(), ['x@{}<-', 'y@{}<-', 'z@{}<-']);

  // a's relist no longer has y (deleted while its watch was down) and has x changed
  lists['/api/v1/namespaces/a/configmaps'] = [cm('a', 'x', { k: 'v' })];
  await until(() => watchers['/api/v1/namespaces/a/configmaps'] !== undefined, 'watch');
  breakWatch('/api/v1/namespaces/a/configmaps');
  await until(() => (listCalls['/api/v1/namespaces/a/configmaps'] ?? 0) >= 2 && deleted.length > 0, 'relist of a');
  t.same(deleted, ['y@{}'], 'only y: z is b\'s');
  t.equal(store.get('b', 'z'), 'z@{}');
  t.equal(store.get('a', 'x'), 'x@{"k":"v"}');
  t.ok(upserts.includes('x@{"k":"v"}<-x@{}'), 'the replaced entry is handed to onUpsert');
  t.equal(store.size, 2);
  await Promise.all([ra.stop(), rb.stop()]);
});

t.test('a cluster-wide reflector relist deletes in every namespace; unchanged keeps the stored entry', async (t) => {
  const { client, lists, listCalls, breakWatch, watchers } = fakeClient();
  const deleted: string[] = [];
  let notified = 0;
  const path = '/api/v1/configmaps';
  const r = new Reflector<{ name: string; v: string }>(client, {
    name: 'configmaps',
    path,
    pageSize: 10,
    backoffInitialMs: 1,
    backoffMaxMs: 2,
    transform: (raw) => ({ name: (raw.metadata as { name: string }).name, v: JSON.stringify(raw.data) }),
    unchanged: (old, next) => old.v === next.v,
    onUpsert: () => notified++,
    onDelete: (old) => deleted.push(old.name),
  });
  lists[path] = [cm('a', 'x'), cm('b', 'y'), cm('c', 'z')];
  r.start();
  await r.whenSynced();
  t.equal(notified, 3);
  const x = r.store.get('a', 'x');
  await until(() => watchers[path] !== undefined, 'watch');
  watchers[path]!({ type: 'MODIFIED', object: cm('a', 'x') });
  t.equal(r.store.get('a', 'x'), x, 'same content: the stored entry stays');
  t.equal(notified, 3, 'and nobody is told');
  watchers[path]!({ type: 'DELETED', object: cm('c', 'z') });
  t.same(deleted, ['z']);
  lists[path] = [cm('a', 'x')];
  breakWatch(path);
  await until(() => (listCalls[path] ?? 0) >= 2 && deleted.length >= 2, 'relist');
  t.same(deleted, ['z', 'y']);
  t.equal(r.store.size, 1);
  await r.stop();
});

const policy: PolicyOptions = { annotations: DEFAULT_ANNOTATIONS, autoReloadAll: false, ignoredWorkloadTypes: new Set(), ignoredResourceKinds: new Set() };
const log = { info() {}, warn() {}, debug() {} };

function deployment(ns: string, name: string, annotations: Record<string, string>, cmName: string, secretName: string): Raw {
  return {
    metadata: { namespace: ns, name, uid: `uid-${name}`, annotations },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        spec: {
          containers: [{ name: 'app', envFrom: [{ configMapRef: { name: cmName } }], volumeMounts: [{ name: 's', mountPath: '/s' }, { name: 'tmp', mountPath: '/tmp' }] }],
          volumes: [{ name: 's', secret: { secretName } }, { name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

t.test('Caches with --namespaces: per-namespace reflectors share one store per kind; reverse index; waitFor; firstSeen', async (t) => {
  const { client, lists, listCalls, breakWatch, watchers } = fakeClient();
  const auto = { 'reloader.stakater.com/auto': 'true' };
  lists['/api/v1/namespaces/a/configmaps'] = [cm('a', 'c1', { k: '1' }), cm('a', 'c2')];
  lists['/api/v1/namespaces/b/configmaps'] = [cm('b', 'c1', { k: 'b' })];
  lists['/api/v1/namespaces/a/secrets'] = [{ metadata: { namespace: 'a', name: 's1' }, data: {} }];
  lists['/apis/apps/v1/namespaces/a/deployments'] = [
    deployment('a', 'd1', auto, 'c1', 's1'),
    deployment('a', 'd2', auto, 'c1', 'other'),
    deployment('a', 'd3', { 'configmap.reloader.stakater.com/reload': 'c2,c.*' }, 'none', 'none'),
  ];
  lists['/apis/apps/v1/namespaces/b/deployments'] = [deployment('b', 'd1', auto, 'c1', 's1')];
  const caches = new Caches(client, {
    namespaces: ['a', 'b', 'a'],
    namespacesToIgnore: new Set(),
    includeHelmSecrets: false,
    workloadKinds: new Set(['Deployment']),
    policy,
  });
  const ctl = new Controller(client, caches, {
    policy,
    strategy: 'env-vars',
    reloadOnCreate: false,
    reloadOnDelete: false,
    debounceMs: 0,
    minReloadIntervalMs: 0,
    maxReloadsPerSecond: 0,
    resyncPeriodMs: 0,
    identity: 'test',
    log,
  });
  caches.start();
  await caches.whenSynced();
  t.ok(caches.ready());

  const c1 = caches.getResource('ConfigMap', 'a', 'c1')!;
  t.equal(caches.getResource('ConfigMap', 'b', 'c1')?.hash === c1.hash, false, 'a/c1 and b/c1 are two entries');
  t.equal(c1.firstSeen, c1.hash, 'firstSeen: the hash at start-up');
  t.equal(caches.getResource('ConfigMap', 'x', 'c1'), undefined, 'namespace not watched');
  t.same([...caches.listResources('ConfigMap', 'a')].map((r) => r.name), ['c1', 'c2']);
  t.same(caches.resourcesIn('a').map((r) => `${r.kind}/${r.name}`), ['ConfigMap/c1', 'ConfigMap/c2', 'Secret/s1']);
  t.same([...caches.allWorkloads()].map((w) => `${w.namespace}/${w.name}`).sort(), ['a/d1', 'a/d2', 'a/d3', 'b/d1']);
  t.same(caches.workloadsIn('a').map((w) => w.name), ['d1', 'd2', 'd3']);
  t.same(caches.dependents('ConfigMap', 'a', 'c1').map((w) => w.name), ['d1', 'd2', 'd3'], 'references, then the pattern c.*');
  t.same(caches.dependents('ConfigMap', 'a', 'c2').map((w) => w.name), ['d3'], 'named exactly (and by the pattern): once');
  t.same(caches.dependents('Secret', 'a', 's1').map((w) => w.name), ['d1']);
  t.same(caches.dependents('ConfigMap', 'b', 'c1').map((w) => w.name), ['d1']);
  t.equal(caches.dependents('ConfigMap', 'b', 'c1')[0]?.namespace, 'b');
  t.same(caches.getWorkload('Deployment', 'a', 'd1')?.template.spec?.containers?.[0]?.volumeMounts, [{ name: 's' }], 'only mounts of kept volumes');

  // a change keeps the firstSeen of the entry it replaces
  await until(() => watchers['/api/v1/namespaces/a/configmaps'] !== undefined, 'watch');
  watchers['/api/v1/namespaces/a/configmaps']!({ type: 'MODIFIED', object: cm('a', 'c1', { k: '2' }) });
  const c1b = caches.getResource('ConfigMap', 'a', 'c1')!;
  t.not(c1b, c1);
  t.not(c1b.hash, c1.hash);
  t.equal(c1b.firstSeen, c1.hash, 'firstSeen handed on');

  // a workload update: reindexed under what it now references
  watchers['/apis/apps/v1/namespaces/a/deployments']!({ type: 'MODIFIED', object: deployment('a', 'd2', auto, 'c2', 'other') });
  t.same(caches.dependents('ConfigMap', 'a', 'c1').map((w) => w.name), ['d1', 'd3']);
  t.same(caches.dependents('ConfigMap', 'a', 'c2').map((w) => w.name), ['d2', 'd3'], 'references first, then named');
  // a status-only update: same entry, still indexed
  const d1 = caches.getWorkload('Deployment', 'a', 'd1');
  watchers['/apis/apps/v1/namespaces/a/deployments']!({ type: 'MODIFIED', object: { ...deployment('a', 'd1', auto, 'c1', 's1'), status: { replicas: 3 } } });
  t.equal(caches.getWorkload('Deployment', 'a', 'd1'), d1);
  t.equal(caches.dependents('Secret', 'a', 's1')[0], d1);

  // waitFor: present keys resolve at once; a missing one when it arrives
  await until(() => watchers['/api/v1/namespaces/b/secrets'] !== undefined, 'watch');
  await caches.waitFor(['ConfigMap/a/c1', 'Deployment/b/d1'], 10_000);
  const waited = caches.waitFor(['Secret/b/late'], 10_000);
  watchers['/api/v1/namespaces/b/secrets']!({ type: 'ADDED', object: { metadata: { namespace: 'b', name: 'late' }, data: {} } });
  await waited;
  t.ok(caches.getResource('Secret', 'b', 'late'));

  // b's ConfigMap relist (b/c1 gone) deletes only in b
  lists['/api/v1/namespaces/b/configmaps'] = [];
  await until(() => watchers['/api/v1/namespaces/b/configmaps'] !== undefined, 'watch');
  breakWatch('/api/v1/namespaces/b/configmaps');
  await until(() => (listCalls['/api/v1/namespaces/b/configmaps'] ?? 0) >= 2 && !caches.getResource('ConfigMap', 'b', 'c1'), 'relist of b');
  t.ok(caches.getResource('ConfigMap', 'a', 'c1'), 'a/c1 stays');
  t.ok(caches.getResource('ConfigMap', 'a', 'c2'), 'a/c2 stays');

  // a deleted workload leaves the index
  watchers['/apis/apps/v1/namespaces/a/deployments']!({ type: 'DELETED', object: deployment('a', 'd1', auto, 'c1', 's1') });
  t.same(caches.dependents('Secret', 'a', 's1'), []);
  await ctl.stop();
  await caches.stop();
});
