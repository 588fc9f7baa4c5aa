/**
 * Kubernetes Events on the workload for each reload (`Reloaded`) and each
 * failure (`ReloadFailed`). Messages carry names and hashes only, never data.
 */
import type { WorkloadEntry } from '../core/types.ts';
import type { KubeClient } from './kube-client.ts';

const API_VERSION: Record<string, string> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  CronJob: 'batch/v1',
  Job: 'batch/v1',
  Rollout: 'argoproj.io/v1alpha1',
};

/** Post a core/v1 Event about `w`; failures are returned, not thrown (events are best effort). */
export async function postEvent(
  client: KubeClient,
  w: WorkloadEntry,
  type: 'Normal' | 'Warning',
  reason: 'Reloaded' | 'ReloadFailed' | 'Unpaused',
  message: string,
  instance: string,
): Promise<Error | undefined> {
  const now = new Date().toISOString();
  try {
    await client.request('POST', `/api/v1/namespaces/${encodeURIComponent(w.namespace)}/events`, {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${w.name}.`, namespace: w.namespace },
        involvedObject: { apiVersion: API_VERSION[w.kind], kind: w.kind, namespace: w.namespace, name: w.name, ...(w.uid ? { uid: w.uid } : {}) },
        type,
        reason,
        // the API server caps messages at 1 KiB for events.k8s.io; stay well under
        message: message.slice(0, 1000),
        source: { component: 'config-reloader' },
        reportingComponent: 'config-reloader',
        reportingInstance: instance,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
    return undefined;
  } catch (e) {
    return e as Error;
  }
}
