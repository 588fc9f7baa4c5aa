import t from 'tap';
import { DEFAULT_ANNOTATIONS } from '../../src/core/annotations.ts';
import type { PodTemplateSpec } from '../../src/core/types.ts';
import { alertBody } from '../../src/watcher/alerts.ts';
import { applyToTemplate } from '../../src/watcher/apply.ts';
import { carriedEnv, parseLastReloaded, templatePatch } from '../../src/watcher/template.ts';
import { annotationKeySet, selectorString, toResource, toWorkload, trimTemplate } from '../../src/watcher/transform.ts';
import { collectionPath, objectPath } from '../../src/watcher/paths.ts';

const keys = annotationKeySet(DEFAULT_ANNOTATIONS);
const spec = {
  containers: [
    { name: 'app', env: [{ name: 'STAKATER_A_CONFIGMAP', value: 'h1' }, { name: 'PLAIN', value: 'x' }], volumeMounts: [{ name: 'v', mountPath: '/v', readOnly: true }] },
    { name: 'side', env: [{ name: 'STAKATER_A_CONFIGMAP', value: 'other' }, { name: 'K', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] },
  ],
  initContainers: [{ name: 'init', envFrom: [{ configMapRef: { name: 'i' } }, { prefix: 'P' } as never] }],
  volumes: [
    { name: 'v', configMap: { name: 'a', defaultMode: 420 } },
    { name: 'sec', secret: { secretName: 's2' } },
    { name: 'proj', projected: { sources: [{ configMap: { name: 'p' } }, { serviceAccountToken: { path: 't' } }, { secret: { name: 'ps' } }] } },
    { name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 't' } }] } },
    { name: 'scratch', emptyDir: {} },
  ],
};

t.test('carriedEnv: STAKATER_* of the first container that has it', async (t) => {
  t.same(Object.fromEntries(carriedEnv(spec)), { STAKATER_A_CONFIGMAP: 'h1' });
  t.same(carriedEnv(undefined).size, 0);
});

t.test('parseLastReloaded', async (t) => {
  const k = DEFAULT_ANNOTATIONS.lastReloadedFrom;
  t.same(parseLastReloaded({ [k]: JSON.stringify({ type: 'SECRET', name: 'x', hash: 'h' }) }, k), { type: 'SECRET', name: 'x', namespace: '', hash: 'h', containerRefs: [], observedAt: 0 });
  t.equal(parseLastReloaded({ [k]: 'not json' }, k), undefined);
  t.equal(parseLastReloaded({ [k]: JSON.stringify({ type: 'OTHER', name: 'x', hash: 'h' }) }, k), undefined);
  t.equal(parseLastReloaded(undefined, k), undefined);
});

t.test('templatePatch: strategic merge by container and env name; removals; annotations', async (t) => {
  const p = templatePatch(spec, {
    set: [
      { kind: 'ConfigMap', namespace: 'n', name: 'a', hash: 'h2', envName: 'STAKATER_A_CONFIGMAP', container: 0 },
      { kind: 'Secret', namespace: 'n', name: 's', hash: 'h3', envName: 'STAKATER_S_SECRET', container: 1 },
      { kind: 'Secret', namespace: 'n', name: 'z', hash: 'h4', envName: 'STAKATER_Z_SECRET', container: 7 },
    ],
    remove: [{ container: 'app', envName: 'STAKATER_GONE_SECRET' }],
    annotations: { a: 'b' },
  });
  t.same(p, {
    spec: {
      containers: [
        { name: 'app', env: [{ name: 'STAKATER_A_CONFIGMAP', value: 'h2' }, { name: 'STAKATER_GONE_SECRET', $patch: 'delete' }] },
        { name: 'side', env: [{ name: 'STAKATER_S_SECRET', value: 'h3' }] },
      ],
    },
    metadata: { annotations: { a: 'b' } },
  });
  t.same(templatePatch(spec, { set: [], remove: [] }), {}, 'nothing to change: empty patch');
});

t.test('applyToTemplate (for kinds that are replaced, not patched)', async (t) => {
  const tmpl: PodTemplateSpec = structuredClone({ metadata: { annotations: { keep: '1' } }, spec });
  applyToTemplate(tmpl, {
    set: [
      { kind: 'ConfigMap', namespace: 'n', name: 'a', hash: 'h2', envName: 'STAKATER_A_CONFIGMAP', container: 0 },
      { kind: 'ConfigMap', namespace: 'n', name: 'b', hash: 'hb', envName: 'STAKATER_B_CONFIGMAP', container: 1 },
      { kind: 'ConfigMap', namespace: 'n', name: 'c', hash: 'hc', envName: 'STAKATER_C_CONFIGMAP', container: 9 },
    ],
    remove: [{ container: 'side', envName: 'K' }, { container: 'nope', envName: 'X' }],
    annotations: { added: '2' },
  });
  t.same(tmpl.spec?.containers?.[0]?.env, [{ name: 'STAKATER_A_CONFIGMAP', value: 'h2' }, { name: 'PLAIN', value: 'x' }]);
  t.same(tmpl.spec?.containers?.[1]?.env, [{ name: 'STAKATER_A_CONFIGMAP', value: 'other' }, { name: 'STAKATER_B_CONFIGMAP', value: 'hb' }]);
  t.same(tmpl.metadata?.annotations, { keep: '1', added: '2' });
  const bare: PodTemplateSpec = { spec: { containers: [{ name: 'x' }] } };
  applyToTemplate(bare, { set: [{ kind: 'Secret', namespace: 'n', name: 's', hash: 'h', envName: 'E', container: 0 }], remove: [], annotations: { a: 'b' } });
  t.same(bare, { spec: { containers: [{ name: 'x', env: [{ name: 'E', value: 'h' }] }] }, metadata: { annotations: { a: 'b' } } });
});

t.test('toResource keeps identity, reloader annotations and the hash, never data nor labels', async (t) => {
  const cm = toResource(
    'ConfigMap',
    { metadata: { name: 'c', namespace: 'n', labels: { l: '1' }, annotations: { 'reloader.stakater.com/match': 'true', 'kubectl.kubernetes.io/last-applied-configuration': '{...}' } }, data: { test: 'test' } },
    keys,
    false,
  );
  t.strictSame(cm, { kind: 'ConfigMap', namespace: 'n', name: 'c', annotations: { 'reloader.stakater.com/match': 'true' }, hash: 'b3cefbcce711f8574b0e66c41fc1dcf06eb5b6db', firstSeen: undefined });
  t.notOk(JSON.stringify(cm).includes('"test"'), 'no data kept');
  const helm = { metadata: { name: 'sh.helm.release.v1.x.v1', namespace: 'n' }, type: 'helm.sh/release.v1', data: { release: 'eA==' } };
  t.equal(toResource('Secret', helm, keys, false), undefined, 'helm release secrets dropped by default');
  t.equal(toResource('Secret', helm, keys, true)?.name, 'sh.helm.release.v1.x.v1', 'kept with --include-helm-secrets');
  t.equal(toResource('Secret', { metadata: { name: 'x' } }, keys, false), undefined, 'no namespace');
  t.equal(toResource('Secret', { metadata: { name: 's', namespace: 'n' } }, keys, false)?.hash, 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
});

t.test('toWorkload keeps only what references and stamps need', async (t) => {
  const raw = {
    metadata: { name: 'd', namespace: 'n', uid: 'u1', annotations: { 'reloader.stakater.com/auto': 'true', 'kubectl.kubernetes.io/last-applied-configuration': 'big' } },
    spec: {
      selector: { matchLabels: { app: 'd' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }, { key: 'x', operator: 'Exists' }] },
      template: { metadata: { annotations: { 'reloader.stakater.com/last-reloaded-from': '{}', other: 'no' }, labels: { app: 'd' } }, spec: { ...spec, nodeSelector: { a: 'b' } } },
    },
  };
  const w = toWorkload('Deployment', raw, keys)!;
  t.same(w.annotations, { 'reloader.stakater.com/auto': 'true' });
  t.equal(w.uid, 'u1');
  t.equal(w.selector, 'app=d,tier in (a,b),x');
  t.same(w.template.metadata?.annotations, { 'reloader.stakater.com/last-reloaded-from': '{}' });
  t.same(w.template.spec?.containers?.[0], { name: 'app', env: [{ name: 'STAKATER_A_CONFIGMAP', value: 'h1' }], volumeMounts: [{ name: 'v' }] });
  t.same(w.template.spec?.containers?.[1]?.env, [{ name: 'STAKATER_A_CONFIGMAP', value: 'other' }, { name: 'K', valueFrom: { secretKeyRef: { name: 's' } } }]);
  t.same(w.template.spec?.initContainers, [{ name: 'init', envFrom: [{ configMapRef: { name: 'i' } }] }]);
  t.same(w.template.spec?.volumes, [
    { name: 'v', configMap: { name: 'a' } },
    { name: 'sec', secret: { secretName: 's2' } },
    { name: 'proj', projected: { sources: [{ configMap: { name: 'p' } }, { secret: { name: 'ps' } }] } },
  ]);
  const cj = toWorkload('CronJob', { metadata: { name: 'c', namespace: 'n' }, spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'j' }] } } } } } }, keys)!;
  t.same(cj.template.spec?.containers, [{ name: 'j' }]);
  t.equal(cj.selector, undefined);
  t.equal(toWorkload('Deployment', { metadata: {} }, keys), undefined);
  // (absent fields are undefined: one object shape, no allocation)
  const defined = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
  t.strictSame(defined(trimTemplate(undefined, keys)), { spec: {} }, 'nothing empty kept');
  // Mounts of volumes that were not kept cannot matter (reference discovery
  // matches mounts against kept volumes), so they are dropped; so are empty lists.
  const mounts = trimTemplate(
    { spec: { containers: [{ name: 'c', volumeMounts: [{ name: 'scratch' }, { name: 'v' }, { name: 'tok' }] }, { name: 'd', volumeMounts: [{ name: 'scratch' }], env: [{ name: 'PLAIN', value: 'x' }] }], initContainers: [], volumes: spec.volumes } },
    keys,
  );
  t.strictSame(defined(mounts.spec?.containers), [{ name: 'c', volumeMounts: [{ name: 'v' }] }, { name: 'd' }]);
  t.equal(mounts.spec?.initContainers, undefined);
  t.equal(mounts.metadata, undefined);
  // Entries without reloader annotations share one frozen empty object.
  const a = toResource('ConfigMap', { metadata: { name: 'a', namespace: 'n', annotations: { other: 'x' } } }, keys, false)!;
  const b = toWorkload('Deployment', { metadata: { name: 'b', namespace: 'n' } }, keys)!;
  t.equal(a.annotations, b.annotations);
  t.ok(Object.isFrozen(a.annotations));
  t.same(a.annotations, {});
});

t.test('selectorString', async (t) => {
  t.equal(selectorString(undefined), undefined);
  t.equal(selectorString({}), undefined);
  t.equal(selectorString({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['x'] }, { key: 'b', operator: 'DoesNotExist' }] }), 'a notin (x),!b');
});

t.test('paths', async (t) => {
  t.equal(collectionPath('ConfigMap'), '/api/v1/configmaps');
  t.equal(collectionPath('Deployment', 'a'), '/apis/apps/v1/namespaces/a/deployments');
  t.equal(objectPath('CronJob', 'a', 'b'), '/apis/batch/v1/namespaces/a/cronjobs/b');
  t.equal(objectPath('Rollout', 'a', 'b'), '/apis/argoproj.io/v1alpha1/namespaces/a/rollouts/b');
});

t.test('alert bodies per sink', async (t) => {
  t.same(alertBody('slack', 'hi', { a: '1' }), { text: 'hi' });
  t.same(alertBody('gchat', 'hi', {}), { text: 'hi' });
  t.match(alertBody('teams', 'hi', {}), { '@type': 'MessageCard', text: 'hi' });
  t.same(alertBody('webhook', 'hi', { kind: 'Deployment' }), { text: 'hi', kind: 'Deployment' });
});
