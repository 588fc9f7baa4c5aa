import t from 'tap';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import fjp from 'fast-json-patch';
import { DEFAULT_ANNOTATIONS } from '../../src/core/annotations.ts';
import type { PolicyOptions } from '../../src/core/policy.ts';
import type { Pod, ResourceKind, WorkloadKind } from '../../src/core/types.ts';
import { createAdmissionHandler, type WebhookLogger } from '../../src/webhook/handler.ts';
import type { AdmissionOutcome, AdmissionReviewRequest } from '../../src/webhook/review.ts';
import { MemoryView } from '../helpers/memory-view.ts';

const fixture: AdmissionReviewRequest = JSON.parse(readFileSync(new URL('../fixtures/admission-deployment-pod.json', import.meta.url), 'utf8'));
const review = (): AdmissionReviewRequest => structuredClone(fixture);
const sha1 = (s: string | Buffer) => createHash('sha1').update(s).digest('hex');
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

const policy = (over: Partial<PolicyOptions> = {}): PolicyOptions => ({
  annotations: DEFAULT_ANNOTATIONS,
  autoReloadAll: false,
  ignoredWorkloadTypes: new Set<WorkloadKind>(),
  ignoredResourceKinds: new Set<ResourceKind>(),
  ...over,
});

const logs: { level: string; msg: string; obj: object }[] = [];
const log: WebhookLogger = {
  debug: (obj, msg) => logs.push({ level: 'debug', msg, obj }),
  warn: (obj, msg) => logs.push({ level: 'warn', msg, obj }),
};

/** The cluster of the fixture: shop/checkout with its config. */
function cluster(annotations: Record<string, string> = { 'reloader.stakater.com/auto': 'true' }) {
  const v = new MemoryView();
  v.configMap('shop', 'checkout-config', { 'app.yaml': 'port: 8080\n' }, { 'logo.png': b64(Buffer.from([0x89, 0x50, 0x4e, 0x47])) });
  v.secret('shop', 'checkout-db', { password: b64(Buffer.from([0xff, 0x00, 0xfe])) });
  v.secret('shop', 'checkout-tls', { 'tls.crt': b64('CERT'), 'tls.key': b64('KEY') });
  v.configMap('shop', 'kube-root-ca.crt', { 'ca.crt': 'CA' });
  v.configMap('shop', 'feature-flags', { beta: 'on' });
  v.workload('Deployment', 'shop', 'checkout', annotations, { metadata: { labels: { app: 'checkout' } } });
  return v;
}

async function admit(v: MemoryView, body: unknown, over: Partial<PolicyOptions> = {}, waitMs = 50): Promise<AdmissionOutcome> {
  return createAdmissionHandler(v, { policy: policy(over), waitMs, log })(body);
}

function patchedPod(body: AdmissionReviewRequest, out: AdmissionOutcome): Pod {
  if (out.status !== 200) throw new Error('expected 200');
  const patch = out.review.response.patch;
  if (!patch) return body.request.object!;
  t.equal(out.review.response.patchType, 'JSONPatch');
  const ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
  return fjp.applyPatch(structuredClone(body.request.object!), ops, true, false).newDocument as Pod;
}

const env = (pod: Pod, container: number) => Object.fromEntries((pod.spec?.containers?.[container]?.env ?? []).map((e) => [e.name, e.value]));

t.test('auto Deployment pod: every referenced resource stamped on the right container', async (t) => {
  const body = review();
  const out = await admit(cluster(), body);
  t.equal(out.status, 200);
  if (out.status !== 200) return;
  t.equal(out.result, 'patched');
  t.equal(out.review.apiVersion, 'admission.k8s.io/v1');
  t.equal(out.review.kind, 'AdmissionReview');
  t.equal(out.review.response.uid, body.request.uid, 'uid echoed');
  t.equal(out.review.response.allowed, true);
  const pod = patchedPod(body, out);
  const e0 = env(pod, 0);
  // hashes computed here from the data, independently of src/core/hash.ts
  t.equal(e0.STAKATER_CHECKOUT_CONFIG_CONFIGMAP, sha1(`app.yaml=port: 8080\n;logo.png=${b64(Buffer.from([0x89, 0x50, 0x4e, 0x47]))}`));
  t.equal(e0.STAKATER_CHECKOUT_DB_SECRET, sha1(Buffer.concat([Buffer.from('password='), Buffer.from([0xff, 0x00, 0xfe])])));
  t.equal(e0.STAKATER_CHECKOUT_TLS_SECRET, sha1('tls.crt=CERT;tls.key=KEY'));
  t.equal(e0.LOG_LEVEL, 'info', 'existing env kept');
  t.notOk('STAKATER_KUBE_ROOT_CA_CRT_CONFIGMAP' in e0, 'the service-account volume injected by the API server is not followed');
  t.notOk('STAKATER_FEATURE_FLAGS_CONFIGMAP' in e0, 'unreferenced ConfigMap not stamped under auto');
  t.same(pod.spec?.containers?.[1]?.env, undefined, 'second container untouched');
  const { spec: _s, ...restBefore } = body.request.object!;
  const { spec: _p, ...restAfter } = pod;
  t.same(restAfter, restBefore, 'nothing outside spec changes');
});

t.test('idempotent: a pod that already carries the stamps gets no patch', async (t) => {
  const v = cluster();
  const body = review();
  const first = await admit(v, body);
  const stamped = review();
  stamped.request.object = patchedPod(body, first);
  const again = await admit(v, stamped);
  t.equal(again.status, 200);
  if (again.status !== 200) return;
  t.equal(again.result, 'unchanged');
  t.notOk('patch' in again.review.response, 'no patch');
  t.notOk('patchType' in again.review.response, 'no patchType');
});

t.test('a value copied from the template is overwritten with the current hash', async (t) => {
  const v = cluster();
  const body = review();
  body.request.object!.spec!.containers![0]!.env!.push({ name: 'STAKATER_CHECKOUT_CONFIG_CONFIGMAP', value: 'stale' });
  const out = await admit(v, body);
  const pod = patchedPod(body, out);
  const e = pod.spec!.containers![0]!.env!;
  t.equal(e.filter((x) => x.name === 'STAKATER_CHECKOUT_CONFIG_CONFIGMAP').length, 1, 'not duplicated');
  t.equal(env(pod, 0).STAKATER_CHECKOUT_CONFIG_CONFIGMAP, v.getResource('ConfigMap', 'shop', 'checkout-config')!.hash);
  if (out.status === 200 && out.review.response.patch) {
    const ops = JSON.parse(Buffer.from(out.review.response.patch, 'base64').toString());
    t.ok(ops.some((o: { op: string; path: string }) => o.op === 'replace' && o.path === '/spec/containers/0/env/2/value'), 'replace op on the copied value');
  }
});

t.test('a container without env gets one', async (t) => {
  const v = cluster({ 'secret.reloader.stakater.com/reload': 'checkout-tls' });
  const body = review();
  delete body.request.object!.spec!.containers![0]!.env;
  const out = await admit(v, body);
  const pod = patchedPod(body, out);
  t.same(pod.spec!.containers![0]!.env, [{ name: 'STAKATER_CHECKOUT_TLS_SECRET', value: sha1('tls.crt=CERT;tls.key=KEY') }]);
});

t.test('not annotated: allowed, no patch', async (t) => {
  const out = await admit(cluster({}), review());
  t.equal(out.status, 200);
  if (out.status !== 200) return;
  t.equal(out.result, 'not-ours');
  t.same(out.review.response, { uid: fixture.request.uid, allowed: true });
});

t.test('named regex list stamps unreferenced resources on containers[0]; exclude and ignore respected', async (t) => {
  const v = cluster({
    'configmap.reloader.stakater.com/reload': 'feature-.*,checkout-config',
    'secret.reloader.stakater.com/reload': 'checkout-.*',
    'secrets.exclude.reloader.stakater.com/reload': 'checkout-db',
  });
  v.configMap('shop', 'checkout-config', { 'app.yaml': 'x' }, undefined, { 'reloader.stakater.com/ignore': 'true' });
  const body = review();
  const pod = patchedPod(body, await admit(v, body));
  const e0 = env(pod, 0);
  t.equal(e0.STAKATER_FEATURE_FLAGS_CONFIGMAP, sha1('beta=on'));
  t.notOk('STAKATER_CHECKOUT_CONFIG_CONFIGMAP' in e0, 'ignore on the ConfigMap');
  t.notOk('STAKATER_CHECKOUT_DB_SECRET' in e0, 'excluded');
  t.ok('STAKATER_CHECKOUT_TLS_SECRET' in e0);
});

t.test('typed auto, ignored resource kinds and workload types', async (t) => {
  const typed = patchedPod(review(), await admit(cluster({ 'secret.reloader.stakater.com/auto': 'true' }), review()));
  t.same(Object.keys(env(typed, 0)).filter((k) => k.startsWith('STAKATER_')).sort(), ['STAKATER_CHECKOUT_DB_SECRET', 'STAKATER_CHECKOUT_TLS_SECRET']);
  const noSecrets = patchedPod(review(), await admit(cluster(), review(), { ignoredResourceKinds: new Set<ResourceKind>(['Secret']) }));
  t.same(Object.keys(env(noSecrets, 0)).filter((k) => k.startsWith('STAKATER_')), ['STAKATER_CHECKOUT_CONFIG_CONFIGMAP']);
  const out = await admit(cluster(), review(), { ignoredWorkloadTypes: new Set<WorkloadKind>(['Deployment']) });
  t.equal(out.status === 200 && out.result, 'not-ours');
});

t.test('owner resolution', async (t) => {
  const auto = { 'reloader.stakater.com/auto': 'true' };
  const withOwner = (kind: string, name: string, labels?: Record<string, string>) => {
    const b = review();
    const m = b.request.object!.metadata!;
    m.ownerReferences = [{ apiVersion: 'apps/v1', kind, name, uid: 'u', controller: true }];
    if (labels) m.labels = labels;
    return b;
  };
  const stamped = async (v: MemoryView, b: AdmissionReviewRequest) => {
    const out = await admit(v, b);
    return out.status === 200 && out.result === 'patched' ? Object.keys(env(patchedPod(b, out), 0)).filter((k) => k.startsWith('STAKATER_')).length : 0;
  };
  for (const kind of ['StatefulSet', 'DaemonSet'] as const) {
    const v = cluster({});
    v.workload(kind, 'shop', 'checkout', auto);
    t.equal(await stamped(v, withOwner(kind, 'checkout')), 3, `${kind} owner`);
  }
  {
    const v = cluster({});
    v.workload('CronJob', 'shop', 'nightly', auto);
    t.equal(await stamped(v, withOwner('Job', 'nightly-29412345')), 3, 'Job → CronJob');
  }
  {
    const v = cluster({});
    v.workload('Job', 'shop', 'migrate-2', auto);
    t.equal(await stamped(v, withOwner('Job', 'migrate-2')), 3, 'standalone Job');
  }
  {
    const v = cluster({});
    v.workload('Rollout', 'shop', 'checkout', auto);
    t.equal(await stamped(v, withOwner('ReplicaSet', 'checkout-6c8f9d', { 'rollouts-pod-template-hash': '6c8f9d' })), 3, 'ReplicaSet → Argo Rollout');
  }
  {
    const v = cluster();
    const out = await admit(v, withOwner('ReplicaSet', 'checkout-abc', { 'pod-template-hash': 'zzz' }));
    t.equal(out.status === 200 && out.result, 'not-ours', 'ReplicaSet name without the pod-template-hash suffix');
    t.same(v.waits, [], 'and no wait for it');
  }
  {
    const b = review();
    b.request.object!.metadata!.ownerReferences = [];
    const out = await admit(cluster(), b);
    t.equal(out.status === 200 && out.result, 'not-ours', 'bare pod');
  }
  {
    const out = await admit(cluster(), withOwner('Node', 'n1'));
    t.equal(out.status === 200 && out.result, 'not-ours', 'static/mirror pod owned by a Node');
  }
  {
    const v = cluster();
    v.covered.delete('Job');
    v.covered.delete('CronJob');
    const out = await admit(v, withOwner('Job', 'nightly-29412345'));
    t.equal(out.status === 200 && out.result, 'not-ours', 'Jobs not watched: no wait');
    t.same(v.waits, []);
  }
});

t.test('owner not yet cached: waits briefly and stamps once it arrives', async (t) => {
  const v = cluster();
  v.workloads.clear();
  const pending = admit(v, review(), {}, 2000);
  // the Deployment reaches the cache a moment later (the watch lagging the ReplicaSet)
  setImmediate(() => v.workload('Deployment', 'shop', 'checkout', { 'reloader.stakater.com/auto': 'true' }));
  const out = await pending;
  t.equal(out.status === 200 && out.result, 'patched');
  t.same(v.waits, [['Deployment/shop/checkout']], 'waited for the Deployment derived from the ReplicaSet name');
});

t.test('owner never arrives: cache miss, allowed without patch, logged', async (t) => {
  const v = cluster();
  v.workloads.clear();
  logs.length = 0;
  const out = await admit(v, review(), {}, 20);
  t.equal(out.status, 200);
  if (out.status !== 200) return;
  t.equal(out.result, 'cache-miss');
  t.same(out.review.response, { uid: fixture.request.uid, allowed: true });
  t.ok(logs.some((l) => l.level === 'warn' && l.msg === 'admission cache miss'));
});

t.test('a referenced resource missing: waits, then stamps the rest', async (t) => {
  const v = cluster();
  v.resources.delete('Secret/shop/checkout-db');
  const out = await admit(v, review(), {}, 20);
  t.equal(out.status === 200 && out.result, 'patched');
  t.same(v.waits, [['Secret/shop/checkout-db']]);
  const e0 = env(patchedPod(review(), out), 0);
  t.ok('STAKATER_CHECKOUT_TLS_SECRET' in e0);
  t.notOk('STAKATER_CHECKOUT_DB_SECRET' in e0);
});

t.test('with waiting off, a miss answers at once', async (t) => {
  const v = cluster();
  v.workloads.clear();
  const out = await admit(v, review(), {}, 0);
  t.equal(out.status === 200 && out.result, 'cache-miss');
  t.same(v.waits, []);
});

t.test('not a Pod CREATE: allowed untouched', async (t) => {
  for (const mutate of [
    (b: AdmissionReviewRequest) => { b.request.operation = 'UPDATE'; },
    (b: AdmissionReviewRequest) => { b.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' }; },
    (b: AdmissionReviewRequest) => { delete b.request.object; },
    (b: AdmissionReviewRequest) => { delete b.request.object!.metadata!.namespace; delete b.request.namespace; },
  ]) {
    const b = review();
    mutate(b);
    const out = await admit(cluster(), b);
    t.equal(out.status === 200 && out.result, 'not-ours');
    t.equal(out.status === 200 && out.review.response.uid, b.request.uid);
  }
});

t.test('bad requests are 400 with a message', async (t) => {
  const cases: [unknown, RegExp][] = [
    [null, /JSON object/],
    [[1, 2], /JSON object/],
    ['text', /JSON object/],
    [{ kind: 'Pod' }, /kind must be "AdmissionReview"/],
    [{ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1', request: { uid: 'x' } }, /apiVersion must be "admission.k8s.io\/v1"/],
    [{ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1' }, /request is missing/],
    [{ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: '' } }, /request.uid/],
  ];
  for (const [body, re] of cases) {
    const out = await admit(cluster(), body);
    t.equal(out.status, 400);
    if (out.status === 400) t.match(out.message, re);
  }
});

t.test('an internal error still answers allowed with the uid', async (t) => {
  const v = cluster();
  v.getWorkload = () => {
    throw new Error('boom');
  };
  logs.length = 0;
  const out = await admit(v, review());
  t.equal(out.status, 200);
  if (out.status !== 200) return;
  t.equal(out.result, 'error');
  t.same(out.review.response, { uid: fixture.request.uid, allowed: true });
  t.ok(logs.some((l) => l.level === 'warn' && (l.obj as { err?: string }).err === 'boom'));
});
