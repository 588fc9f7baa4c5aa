/**
 * Writing a reload to the cluster, per workload kind. Deployments,
 * StatefulSets and DaemonSets (and CronJob templates) take a strategic merge
 * patch with field manager `config-reloader`; CRDs (Argo Rollouts) do not
 * support strategic merge, so they are read, changed and replaced (a 409 on a
 * stale resourceVersion is retryable); a CronJob also gets a Job created from
 * its template; a Job is recreated, as Reloader does.
 */
import type { Container, PodTemplateSpec, WorkloadEntry } from '../core/types.ts';
import { KubeError, type KubeClient } from './kube-client.ts';
import { collectionPath, objectPath } from './paths.ts';
import { templatePatch, type TemplateChange } from './template.ts';

export const FIELD_MANAGER = 'config-reloader';
const SMP = 'application/strategic-merge-patch+json';

/** Re-creating a deleted Job: up to ~30 s (1 + 2 + … capped at 4 s per wait). */
const JOB_CREATE_RETRY = { attempts: 10, firstDelayMs: 250, maxDelayMs: 4000 };

/** Run `f`, retrying errors that are retryable (KubeError.retryable: 409, 429, 5xx, transport). */
async function withRetries<T>(f: () => Promise<T>, o: { attempts: number; firstDelayMs: number; maxDelayMs: number }): Promise<T> {
  let delay = o.firstDelayMs;
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (e) {
      if (i >= o.attempts || !(e instanceof KubeError) || !e.retryable) throw e;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, o.maxDelayMs);
    }
  }
}

/** Extra writes that go with a reload of a Deployment: pause it (pause-period). */
export interface PauseWrite {
  pausedAtKey: string;
  at: Date;
}

/** Apply `change` in memory to a full pod template (for kinds we replace). */
export function applyToTemplate(t: PodTemplateSpec, change: TemplateChange): void {
  const containers: Container[] = t.spec?.containers ?? [];
  for (const s of change.set) {
    const c = containers[s.container];
    if (!c) continue;
    const env = (c.env ??= []);
    const i = env.findIndex((e) => e.name === s.envName);
    if (i >= 0) env[i] = { name: s.envName, value: s.hash };
    else env.push({ name: s.envName, value: s.hash });
  }
  for (const r of change.remove) {
    const c = containers.find((x) => x.name === r.container);
    if (c?.env) c.env = c.env.filter((e) => e.name !== r.envName);
  }
  if (change.annotations) {
    t.metadata ??= {};
    t.metadata.annotations = { ...t.metadata.annotations, ...change.annotations };
  }
}

/** Write the reload of `w`. Throws KubeError. */
export async function applyReload(client: KubeClient, w: WorkloadEntry, change: TemplateChange, pause?: PauseWrite): Promise<void> {
  const path = objectPath(w.kind, w.namespace, w.name);
  const query = { fieldManager: FIELD_MANAGER };
  const template = templatePatch(w.template.spec, change);
  switch (w.kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet': {
      const body: Record<string, unknown> = { spec: { template, ...(pause ? { paused: true } : {}) } };
      if (pause) body.metadata = { annotations: { [pause.pausedAtKey]: pause.at.toISOString() } };
      await client.request('PATCH', path, { query, body, contentType: SMP });
      return;
    }
    case 'CronJob': {
      await client.request('PATCH', path, { query, body: { spec: { jobTemplate: { spec: { template } } } }, contentType: SMP });
      const cj = await client.request<{ metadata: { name: string; uid: string }; spec: { jobTemplate: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: unknown } } }>('GET', path);
      await client.request('POST', collectionPath('Job', w.namespace), {
        query,
        body: {
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: {
            // Job names are at most 63 characters; the API server adds 5 random ones to generateName
            generateName: `${cj.metadata.name.slice(0, 52)}-`,
            namespace: w.namespace,
            labels: cj.spec.jobTemplate.metadata?.labels ?? {},
            annotations: { ...cj.spec.jobTemplate.metadata?.annotations, 'cronjob.kubernetes.io/instantiate': 'manual' },
            ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata.name, uid: cj.metadata.uid, controller: true, blockOwnerDeletion: true }],
          },
          spec: cj.spec.jobTemplate.spec,
        },
      });
      return;
    }
    case 'Job': {
      const job = await client.request<{ metadata: Record<string, unknown> & { labels?: Record<string, string> }; spec: Record<string, unknown> & { template: PodTemplateSpec } }>('GET', path);
      applyToTemplate(job.spec.template, change);
      // The Job controller owns the selector and these labels; a new Job gets its own.
      const drop = ['controller-uid', 'batch.kubernetes.io/controller-uid'];
      const labels = { ...job.spec.template.metadata?.labels };
      for (const k of drop) delete labels[k];
      const spec: Record<string, unknown> = { ...job.spec, template: { ...job.spec.template, metadata: { ...job.spec.template.metadata, labels } } };
      delete spec.selector;
      delete spec.manualSelector;
      const metaLabels = { ...job.metadata.labels };
      for (const k of drop) delete metaLabels[k];
      await client.request('DELETE', path, { query: { propagationPolicy: 'Background' } });
      // From here the Job exists only in `spec` above: a failed create cannot
      // be retried by a later reconcile (the cache no longer has the Job), so
      // it is retried here, including 409 AlreadyExists while the old Job is
      // still being removed.
      const body = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: w.name, namespace: w.namespace, labels: metaLabels, annotations: job.metadata.annotations ?? {} }, spec };
      await withRetries(() => client.request('POST', collectionPath('Job', w.namespace), { query, body }), JOB_CREATE_RETRY);
      return;
    }
    case 'Rollout': {
      const ro = await client.request<{ spec: { template: PodTemplateSpec } }>('GET', path);
      applyToTemplate(ro.spec.template, change);
      await client.request('PUT', path, { query, body: ro });
      return;
    }
  }
}

/** Unpause a Deployment whose pause period is over, removing `paused-at`. */
export async function unpause(client: KubeClient, w: WorkloadEntry, pausedAtKey: string): Promise<void> {
  await client.request('PATCH', objectPath(w.kind, w.namespace, w.name), {
    query: { fieldManager: FIELD_MANAGER },
    body: { metadata: { annotations: { [pausedAtKey]: null } }, spec: { paused: false } },
    contentType: SMP,
  });
}
