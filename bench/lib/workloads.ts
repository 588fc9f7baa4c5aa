/**
 * Objects the benchmarks create, and waiting for the controllers to catch up
 * with them.
 */
import { randomBytes } from 'node:crypto';
import { type Kube, type Obj, seg } from './kube.ts';
import { say } from './system.ts';

export const IMAGE = 'registry.k8s.io/pause:3.10';

export interface DeploymentOptions {
  name: string;
  replicas?: number;
  annotations?: Record<string, string>;
  /** ConfigMaps used through envFrom. */
  configMaps?: string[];
  /** Secrets mounted as volumes. */
  secrets?: string[];
}

/** A small Deployment of one pause container. */
export function deployment(o: DeploymentOptions): Obj {
  const labels = { app: o.name };
  const secrets = o.secrets ?? [];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: o.name, labels, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      replicas: o.replicas ?? 0,
      // Few old ReplicaSets: the reaction bench rolls the target out ~60 times.
      revisionHistoryLimit: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'app',
              image: IMAGE,
              ...(o.configMaps?.length ? { envFrom: o.configMaps.map((name) => ({ configMapRef: { name } })) } : {}),
              ...(secrets.length ? { volumeMounts: secrets.map((s, i) => ({ name: `s${i}`, mountPath: `/etc/s${i}` })) } : {}),
            },
          ],
          ...(secrets.length ? { volumes: secrets.map((s, i) => ({ name: `s${i}`, secret: { secretName: s } })) } : {}),
        },
      },
    },
  };
}

export function configMap(name: string, data: Record<string, string>, annotations?: Record<string, string>): Obj {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(annotations ? { annotations } : {}) }, data };
}

/** A Secret with `bytes` of random data (base64 on the wire) split over a few keys. */
export function secret(name: string, bytes: number): Obj {
  const keys = bytes > 4096 ? 4 : 2;
  const data: Record<string, string> = {};
  for (let k = 0; k < keys; k++) data[`key${k}`] = randomBytes(Math.ceil(bytes / keys)).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name }, data };
}

export const deploymentsPath = (ns: string) => `/apis/apps/v1/namespaces/${seg(ns)}/deployments`;
export const configMapsPath = (ns: string) => `/api/v1/namespaces/${seg(ns)}/configmaps`;
export const secretsPath = (ns: string) => `/api/v1/namespaces/${seg(ns)}/secrets`;

/** POST, treating 409 AlreadyExists as done (a rerun or a retried create). */
export async function create(kube: Kube, collection: string, body: Obj): Promise<void> {
  await kube.request('POST', collection, { body, okStatuses: [409] });
}

/**
 * Wait until every Deployment in `ns` has `status.observedGeneration >=
 * metadata.generation` (the deployment controller has processed it and its
 * ReplicaSet exists). One paginated LIST, then a WATCH from its
 * resourceVersion that tracks the stragglers: polling LISTs of 10k
 * Deployments every few seconds would cost the API server (and the shared
 * 2 cores) more than the controllers' own work. Relists if the watch is lost.
 */
export async function waitControllersCaughtUp(kube: Kube, ns: string, t0: number, { timeoutMs = 1_800_000 } = {}): Promise<number> {
  const start = performance.now();
  const isBehind = (d: Obj) => !((d.status?.observedGeneration ?? 0) >= d.metadata.generation);
  for (;;) {
    const behind = new Set<string>();
    let total = 0;
    let rv = '';
    let cont = '';
    do {
      const page = await kube.get<{ items: Obj[]; metadata: { continue?: string; resourceVersion: string } }>(
        `${deploymentsPath(ns)}?limit=1000${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
      );
      for (const d of page.items) {
        total++;
        if (isBehind(d)) behind.add(d.metadata.name);
      }
      rv = page.metadata.resourceVersion;
      cont = page.metadata.continue ?? '';
    } while (cont);
    if (behind.size > 0) {
      say(t0, `waiting for the deployment controller: ${behind.size}/${total} Deployments not yet observed`);
      let lost: string | undefined;
      await new Promise<void>((resolve) => {
        const progress = setInterval(() => say(t0, `waiting for the deployment controller: ${behind.size}/${total} not yet observed`), 10_000);
        const w = kube.watch(deploymentsPath(ns), { resourceVersion: rv }, (e) => {
          if (e.type === 'ERROR') {
            lost = JSON.stringify(e.object).slice(0, 200);
            w.close();
            return;
          }
          if (e.type === 'BOOKMARK') return;
          const name = e.object.metadata.name as string;
          if (e.type === 'DELETED' || !isBehind(e.object)) behind.delete(name);
          else behind.add(name);
          if (behind.size === 0) w.close();
        });
        const timer = setTimeout(() => {
          lost = 'timeout';
          w.close();
        }, Math.max(0, timeoutMs - (performance.now() - start)));
        void w.ended.then(
          () => {},
          (e: Error) => (lost = e.message),
        ).finally(() => {
          clearInterval(progress);
          clearTimeout(timer);
          resolve();
        });
      });
      if (behind.size > 0) {
        if (performance.now() - start > timeoutMs) throw new Error(`deployment controller still behind on ${behind.size} Deployments after ${timeoutMs} ms`);
        say(t0, `watch lost (${lost ?? 'ended'}); relisting`);
        continue;
      }
    }
    say(t0, `controllers caught up: ${total} Deployments in ${ns} observed (${((performance.now() - start) / 1000).toFixed(1)} s of waiting)`);
    return total;
  }
}

/** Count ReplicaSets in a namespace (paginated). */
export async function countReplicaSets(kube: Kube, ns: string): Promise<number> {
  let n = 0;
  for await (const _ of kube.list(`/apis/apps/v1/namespaces/${seg(ns)}/replicasets`, {}, 1000)) n++;
  return n;
}
