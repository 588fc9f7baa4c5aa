/**
 * Owner resolution for a new pod, from the caches only (DESIGN.md §5).
 *
 * A Deployment's new ReplicaSet is created milliseconds before its pods, so a
 * ReplicaSet cache would usually not have it yet. Instead the Deployment name
 * is derived from the ReplicaSet name: the controller names it
 * `<deployment>-<pod-template-hash>` and labels every pod with that hash.
 */
import { cacheKey, type CacheView, type Pod, type WorkloadEntry, type WorkloadKind } from '../core/types.ts';

/** Result of resolving a pod's controlling workload. */
export type OwnerResult =
  | { kind: 'found'; workload: WorkloadEntry }
  /** Not owned by anything we reload (bare pod, bare ReplicaSet, unknown kind). */
  | { kind: 'none'; why: string }
  /** Owned by a workload the caches do not hold (yet): `keys` could resolve it. */
  | { kind: 'missing'; keys: string[] };

const DEPLOYMENT_HASH_LABEL = 'pod-template-hash';
const ROLLOUT_HASH_LABEL = 'rollouts-pod-template-hash';
// A CronJob names its Jobs `<cronjob>-<scheduled time in minutes since epoch>`.
const CRONJOB_JOB_SUFFIX = /-\d+$/;

function trimSuffix(name: string, hash: string | undefined): string | undefined {
  if (!hash || !name.endsWith(`-${hash}`)) return undefined;
  const base = name.slice(0, -(hash.length + 1));
  return base.length > 0 ? base : undefined;
}

/** Resolve the workload that controls `pod` (namespace from the pod or the request). */
export function resolveOwner(pod: Pod, namespace: string, view: Pick<CacheView, 'getWorkload' | 'covers'>): OwnerResult {
  const refs = pod.metadata?.ownerReferences ?? [];
  const ref = refs.find((r) => r.controller === true);
  if (!ref || !ref.name) return { kind: 'none', why: 'no controlling owner' };
  const labels = pod.metadata?.labels ?? {};
  const lookup = (kind: WorkloadKind, name: string): OwnerResult => {
    const w = view.getWorkload(kind, namespace, name);
    if (w) return { kind: 'found', workload: w };
    if (!view.covers(kind, namespace)) return { kind: 'none', why: `${kind} in ${namespace} is not watched` };
    return { kind: 'missing', keys: [cacheKey(kind, namespace, name)] };
  };
  switch (ref.kind) {
    case 'StatefulSet':
    case 'DaemonSet':
      return lookup(ref.kind, ref.name);
    case 'ReplicaSet': {
      const rollout = trimSuffix(ref.name, labels[ROLLOUT_HASH_LABEL]);
      if (rollout) return lookup('Rollout', rollout);
      const deployment = trimSuffix(ref.name, labels[DEPLOYMENT_HASH_LABEL]);
      if (deployment) return lookup('Deployment', deployment);
      return { kind: 'none', why: 'ReplicaSet not created by a Deployment or Rollout' };
    }
    case 'Job': {
      // A Job of a CronJob is reloaded through its CronJob; a standalone Job
      // (behind Reloader's Job support) through itself.
      const job = view.getWorkload('Job', namespace, ref.name);
      if (job) return { kind: 'found', workload: job };
      if (CRONJOB_JOB_SUFFIX.test(ref.name) && view.covers('CronJob', namespace)) {
        return lookup('CronJob', ref.name.replace(CRONJOB_JOB_SUFFIX, ''));
      }
      return lookup('Job', ref.name);
    }
    default:
      return { kind: 'none', why: `owner kind ${ref.kind ?? '(none)'} is not reloaded` };
  }
}
