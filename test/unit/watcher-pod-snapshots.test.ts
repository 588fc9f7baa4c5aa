import t from 'tap';
import { matchesTerms, parseSelector, PodSnapshots, reducePod } from '../../src/watcher/pod-snapshots.ts';
import type { StringMap } from '../../src/core/types.ts';

const matchesSelector = (selector: string, labels: StringMap) => matchesTerms(parseSelector(selector), labels);
import { selectorString } from '../../src/watcher/transform.ts';
import type { ListPage, Query } from '../../src/watcher/kube-client.ts';

t.test('matchesSelector: every form selectorString writes', async (t) => {
  const sel = selectorString({
    matchLabels: { app: 'web', 'app.kubernetes.io/part-of': 'shop' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['a', 'b'] },
      { key: 'env', operator: 'NotIn', values: ['dev'] },
      { key: 'team', operator: 'Exists' },
      { key: 'legacy', operator: 'DoesNotExist' },
    ],
  })!;
  const ok = { app: 'web', 'app.kubernetes.io/part-of': 'shop', tier: 'b', env: 'prod', team: 'x' };
  t.ok(matchesSelector(sel, ok), sel);
  t.notOk(matchesSelector(sel, { ...ok, app: 'api' }), 'k=v differs');
  t.notOk(matchesSelector(sel, { ...ok, tier: 'c' }), 'not in the set');
  t.notOk(matchesSelector(sel, { ...ok, env: 'dev' }), 'in the excluded set');
  const { team: _team, ...noTeam } = ok;
  t.notOk(matchesSelector(sel, noTeam), 'Exists missing');
  t.notOk(matchesSelector(sel, { ...ok, legacy: '' }), 'DoesNotExist present');
  t.ok(matchesSelector('env notin (dev)', {}), 'notin matches an absent key, as in Kubernetes');
  t.notOk(matchesSelector('tier in (a)', {}), 'in needs the key');
});

t.test('reducePod keeps labels, times and only the stamp env vars', async (t) => {
  const p = reducePod({
    metadata: { name: 'p', labels: { app: 'web' }, creationTimestamp: '2026-12-04T10:00:00Z', annotations: { big: 'x'.repeat(1000) } },
    spec: { containers: [{ name: 'c', image: 'i', env: [{ name: 'STAKATER_CFG_CONFIGMAP', value: 'h1' }, { name: 'PASSWORD', value: 'secret' }] }] },
  });
  t.same(p, { labels: { app: 'web' }, metadata: { creationTimestamp: '2026-12-04T10:00:00Z' }, spec: { containers: [{ env: [{ name: 'STAKATER_CFG_CONFIGMAP', value: 'h1' }] }] } });
});

t.test('PodSnapshots: one paginated LIST per namespace within the TTL; a failed LIST is not kept', async (t) => {
  let now = 0;
  const calls: string[] = [];
  let fail = false;
  const pod = (name: string, app: string) => ({ metadata: { name, labels: { app } }, spec: { containers: [] } });
  const list = async (ns: string, q: Query): Promise<ListPage> => {
    calls.push(`${ns}:${q.continue ?? ''}`);
    if (fail) throw new Error('boom');
    return q.continue ? { items: [pod('b', 'api')], resourceVersion: '1' } : { items: [pod('a', 'web')], resourceVersion: '1', continue: 'next' };
  };
  const s = new PodSnapshots(list, { ttlMs: 1000, now: () => now });
  t.teardown(() => s.clear());
  t.same((await s.matching('ns', 'app=web')).map((p) => p.labels.app), ['web']);
  t.same((await s.matching('ns', 'app=api')).map((p) => p.labels.app), ['api']);
  t.same(calls, ['ns:', 'ns:next'], 'both pages once, then served from the snapshot');
  now = 1000;
  fail = true;
  await t.rejects(s.matching('ns', ''), /boom/);
  fail = false;
  await s.matching('ns', '');
  t.same(calls, ['ns:', 'ns:next', 'ns:', 'ns:', 'ns:next'], 'expired, failed (not kept), listed again');
});

t.test('PodSnapshots.matching: the label index narrows, the full selector decides', async (t) => {
  const pods = [
    { name: 'w1', labels: { app: 'web', tier: 'a' } },
    { name: 'w2', labels: { app: 'web', tier: 'b' } },
    { name: 'x1', labels: { app: 'api', tier: 'a' } },
    { name: 'n1', labels: { other: 'y' } },
  ].map((p) => ({ metadata: { name: p.name, labels: p.labels, creationTimestamp: '2026-12-04T10:00:00Z' }, spec: { containers: [{ env: [{ name: 'STAKATER_X_CONFIGMAP', value: p.name }] }] } }));
  const s = new PodSnapshots(async () => ({ items: pods, resourceVersion: '1' }));
  t.teardown(() => s.clear());
  const names = async (sel: string) => (await s.matching('ns', sel)).map((p) => p.spec?.containers?.[0]?.env?.[0]?.value);
  t.same(await names('app=web'), ['w1', 'w2']);
  t.same(await names('app=web,tier in (a)'), ['w1']);
  t.same(await names('tier in (a,b),app notin (web)'), ['x1'], 'no equality term: every pod is checked');
  t.same(await names('app=web,other'), [], 'narrowed by app=web, then Exists(other) fails');
  t.same(await names('app=none'), [], 'an equality term nobody has');
});
