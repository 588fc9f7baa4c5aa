/**
 * `--real` for bench/mutate.ts: the webhook's own createAdmissionHandler over
 * a map-backed CacheView holding what the fixture pod needs (its Deployment,
 * with `reloader.stakater.com/auto: "true"`, and the ConfigMap and Secret it
 * uses), so every request goes the whole way to a JSON patch.
 */
import { DEFAULT_ANNOTATIONS } from '../src/core/annotations.ts';
import { cacheKey, type CacheView, type Pod, type ResourceEntry, type ResourceKind, type WorkloadEntry } from '../src/core/types.ts';
import type { Admit } from '../src/server/mutate.ts';
import { createAdmissionHandler } from '../src/webhook/handler.ts';

/** The real admission handler for the fixture review. */
export function realAdmit(fixture: unknown): Admit {
  return createAdmissionHandler(fixtureView(fixture), {
    policy: { annotations: DEFAULT_ANNOTATIONS, autoReloadAll: false, ignoredWorkloadTypes: new Set(), ignoredResourceKinds: new Set() },
    waitMs: 1000,
  });
}

/** A CacheView with the fixture pod's owning Deployment and the resources its spec references. */
export function fixtureView(fixture: unknown): CacheView {
  const pod = (fixture as { request: { object: Pod } }).request.object;
  const ns = pod.metadata?.namespace ?? 'default';
  const hash = pod.metadata?.labels?.['pod-template-hash'] ?? '';
  const rsName = pod.metadata?.ownerReferences?.[0]?.name ?? '';
  // The Deployment's name is the ReplicaSet's minus `-<pod-template-hash>`.
  const deployment = rsName.slice(0, rsName.length - hash.length - 1);

  const resources = new Map<string, ResourceEntry>();
  const add = (kind: ResourceKind, name: string, sha1: string) =>
    resources.set(cacheKey(kind, ns, name), { kind, namespace: ns, name, annotations: {}, hash: sha1 });
  for (const v of pod.spec?.volumes ?? []) if (v.configMap?.name) add('ConfigMap', v.configMap.name, 'b3cefbcce711f8574b0e66c41fc1dcf06eb5b6db');
  for (const c of pod.spec?.containers ?? []) {
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) add('Secret', e.secretRef.name, '0d58150de76a895b24f4ca213f590766160c4349');
  }
  const workload: WorkloadEntry = {
    kind: 'Deployment',
    namespace: ns,
    name: deployment,
    uid: '0b6c3c8e-4f1a-4d2b-9e5f-7a8b9c0d1e2f',
    annotations: { [DEFAULT_ANNOTATIONS.auto]: 'true' },
    template: { metadata: { labels: pod.metadata?.labels ?? {} }, spec: pod.spec ?? {} },
  };

  return {
    ready: () => true,
    covers: () => true,
    getResource: (kind, namespace, name) => resources.get(cacheKey(kind, namespace, name)),
    listResources: (kind, namespace) => [...resources.values()].filter((r) => r.kind === kind && r.namespace === namespace),
    getWorkload: (kind, namespace, name) =>
      kind === workload.kind && namespace === workload.namespace && name === workload.name ? workload : undefined,
    waitFor: async () => {},
  };
}
