/** REST paths of the kinds we watch and patch. */
import type { ResourceKind, WorkloadKind } from '../core/types.ts';

const GROUP_PATH: Record<ResourceKind | WorkloadKind, [string, string]> = {
  ConfigMap: ['/api/v1', 'configmaps'],
  Secret: ['/api/v1', 'secrets'],
  Deployment: ['/apis/apps/v1', 'deployments'],
  StatefulSet: ['/apis/apps/v1', 'statefulsets'],
  DaemonSet: ['/apis/apps/v1', 'daemonsets'],
  CronJob: ['/apis/batch/v1', 'cronjobs'],
  Job: ['/apis/batch/v1', 'jobs'],
  Rollout: ['/apis/argoproj.io/v1alpha1', 'rollouts'],
};

/** Collection path, cluster-wide when `namespace` is undefined. */
export function collectionPath(kind: ResourceKind | WorkloadKind, namespace?: string): string {
  const [prefix, plural] = GROUP_PATH[kind];
  return namespace ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${prefix}/${plural}`;
}

/** Path of one object. */
export function objectPath(kind: ResourceKind | WorkloadKind, namespace: string, name: string): string {
  return `${collectionPath(kind, namespace)}/${encodeURIComponent(name)}`;
}
