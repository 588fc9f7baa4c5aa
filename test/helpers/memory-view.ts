/**
 * A map-backed CacheView for unit tests and benchmarks: what the watcher's
 * informers would hold, filled by hand. `waitFor` resolves as soon as `put`
 * adds the last awaited key.
 */
import { hashConfigMap, hashSecret } from '../../src/core/hash.ts';
import { cacheKey, type CacheView, type PodTemplateSpec, type ResourceEntry, type ResourceKind, type StringMap, type WorkloadEntry, type WorkloadKind } from '../../src/core/types.ts';

export class MemoryView implements CacheView {
  resources = new Map<string, ResourceEntry>();
  workloads = new Map<string, WorkloadEntry>();
  isReady = true;
  /** Kinds covered in every namespace; all by default. */
  covered = new Set<string>(['ConfigMap', 'Secret', 'Deployment', 'StatefulSet', 'DaemonSet', 'Rollout', 'CronJob', 'Job']);
  waits: string[][] = [];
  private waiters = new Set<() => void>();

  ready(): boolean {
    return this.isReady;
  }
  covers(kind: ResourceKind | WorkloadKind): boolean {
    return this.covered.has(kind);
  }
  getResource(kind: ResourceKind, ns: string, name: string): ResourceEntry | undefined {
    return this.resources.get(cacheKey(kind, ns, name));
  }
  *listResources(kind: ResourceKind, ns: string): Iterable<ResourceEntry> {
    for (const r of this.resources.values()) if (r.kind === kind && r.namespace === ns) yield r;
  }
  getWorkload(kind: WorkloadKind, ns: string, name: string): WorkloadEntry | undefined {
    return this.workloads.get(cacheKey(kind, ns, name));
  }
  private has(key: string): boolean {
    return this.resources.has(key) || this.workloads.has(key);
  }
  waitFor(keys: readonly string[], timeoutMs: number): Promise<void> {
    this.waits.push([...keys]);
    return new Promise((resolve) => {
      const check = () => {
        if (keys.every((k) => this.has(k))) done();
      };
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
    });
  }
  private notify() {
    for (const w of [...this.waiters]) w();
  }

  /** Add a ConfigMap, hashing its data like the watcher does. */
  configMap(ns: string, name: string, data: StringMap, binaryData?: StringMap, annotations: StringMap = {}): ResourceEntry {
    const r: ResourceEntry = { kind: 'ConfigMap', namespace: ns, name, annotations, hash: hashConfigMap(data, binaryData) };
    this.resources.set(cacheKey('ConfigMap', ns, name), r);
    this.notify();
    return r;
  }
  /** Add a Secret; `data` values are base64 as on the wire. */
  secret(ns: string, name: string, data: StringMap, annotations: StringMap = {}): ResourceEntry {
    const r: ResourceEntry = { kind: 'Secret', namespace: ns, name, annotations, hash: hashSecret(data) };
    this.resources.set(cacheKey('Secret', ns, name), r);
    this.notify();
    return r;
  }
  workload(kind: WorkloadKind, ns: string, name: string, annotations: StringMap, template: PodTemplateSpec = {}): WorkloadEntry {
    const w: WorkloadEntry = { kind, namespace: ns, name, annotations, template };
    this.workloads.set(cacheKey(kind, ns, name), w);
    this.notify();
    return w;
  }
}
