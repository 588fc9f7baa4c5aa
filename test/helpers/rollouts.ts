/**
 * Cluster-state assertions for reload tests: ReplicaSets of a Deployment once
 * the controller has caught up, and "nothing changes for a while" checks
 * (bounded, polling).
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { clients, waitFor } from '../harness/cluster-env.ts';

const { apps, core } = clients();

/** Replace a ConfigMap's data (and optionally merge labels/annotations), as a user's edit would. */
export async function putConfigMap(ns: string, name: string, data: Record<string, string>, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Promise<void> {
  const cur = await core.readNamespacedConfigMap({ namespace: ns, name });
  cur.data = data;
  if (extra.labels) cur.metadata!.labels = { ...cur.metadata!.labels, ...extra.labels };
  if (extra.annotations) cur.metadata!.annotations = { ...cur.metadata!.annotations, ...extra.annotations };
  await core.replaceNamespacedConfigMap({ namespace: ns, name, body: cur });
}

/** The Deployment once `status.observedGeneration >= metadata.generation` (its new ReplicaSet exists then). */
export async function settled(ns: string, name: string): Promise<V1Deployment> {
  return waitFor(`${ns}/${name} observed`, async () => {
    const d = await apps.readNamespacedDeployment({ namespace: ns, name });
    return (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) ? d : undefined;
  });
}

/** ReplicaSets owned by the Deployment, after it has settled. */
export async function replicaSets(ns: string, name: string) {
  const d = await settled(ns, name);
  const list = await apps.listNamespacedReplicaSet({ namespace: ns });
  return list.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid));
}

/** Wait until the Deployment has `n` ReplicaSets; returns them. */
export async function waitForReplicaSets(ns: string, name: string, n: number, timeoutMs = 30_000) {
  return waitFor(`${ns}/${name} with ${n} ReplicaSets`, async () => {
    const rs = await replicaSets(ns, name);
    if (rs.length > n) throw new Error(`${ns}/${name} has ${rs.length} ReplicaSets, more than ${n}`);
    return rs.length === n ? rs : undefined;
  }, { timeoutMs });
}

/**
 * Poll `check` for `ms` and fail as soon as it is false: how tests assert
 * that something does NOT happen (e.g. no rollout) within a window that
 * covers the reloader's debounce and reaction time.
 */
export async function holds(what: string, check: () => Promise<boolean>, ms: number, intervalMs = 100): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await check())) throw new Error(`${what} stopped holding`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Template env of container 0 as a name → value map. */
export function templateEnv(d: V1Deployment | { spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } } }): Record<string, string | undefined> {
  return Object.fromEntries((d.spec?.template?.spec?.containers?.[0]?.env ?? []).map((e) => [e.name, e.value]));
}
