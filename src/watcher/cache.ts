/**
 * The caches: one reflector per watched kind (and namespace, when the watch
 * is limited), the CacheView the webhook reads, and the reverse index from
 * each ConfigMap/Secret to the workloads that reference or name it, so a
 * change costs O(its dependents) rather than a scan of every workload.
 */
import type { AnnotationNames } from '../core/annotations.ts';
import { findReferences } from '../core/refs.ts';
import { isInterested, matchesNamed, type PolicyOptions } from '../core/policy.ts';
import { policyOf } from '../core/plan.ts';
import { cacheKey, type CacheView, type ResourceEntry, type ResourceKind, type WorkloadEntry, type WorkloadKind } from '../core/types.ts';
import type { KubeClient } from './kube-client.ts';
import { collectionPath } from './paths.ts';
import { Reflector } from './reflector.ts';
import { annotationKeySet, HELM_SECRET_TYPE, toResource, toWorkload } from './transform.ts';

/** What the caches watch. */
export interface CacheOptions {
  /** Watch only these namespaces; undefined = cluster-wide. */
  namespaces?: readonly string[];
  namespacesToIgnore: ReadonlySet<string>;
  /** Only namespaces with these labels (`--namespace-selector`). */
  namespaceSelector?: string;
  /** Only ConfigMaps/Secrets with these labels (`--resource-label-selector`). */
  resourceLabelSelector?: string;
  includeHelmSecrets: boolean;
  workloadKinds: ReadonlySet<WorkloadKind>;
  policy: PolicyOptions;
  pageSize?: number;
  log?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void; info(obj: object, msg: string): void };
  onRestart?: (reflector: string, reason: string) => void;
}

/** A change the controller reacts to (it re-reads state; it never branches on the kind of change). */
export interface CacheListener {
  resourceChanged(r: ResourceEntry, old: ResourceEntry | undefined, initial: boolean): void;
  resourceDeleted(r: ResourceEntry): void;
  workloadChanged(w: WorkloadEntry): void;
  workloadDeleted(w: WorkloadEntry): void;
  namespaceChanged(ns: string): void;
}

/** A named-list item that can only match itself ('.' is a regex wildcard, so it is not plain). */
const PLAIN_NAME = /^[a-z0-9-]+$/;

/** The watcher's caches; also the webhook's CacheView. */
export class Caches implements CacheView {
  private readonly o: CacheOptions;
  private readonly keys: ReadonlySet<string>;
  private readonly resources = new Map<string, ResourceEntry>();
  /** namespace → its resources by key (named lists, namespaces entering the scope). */
  private readonly resourcesByNs = new Map<string, Map<string, ResourceEntry>>();
  private readonly workloads = new Map<string, WorkloadEntry>();
  /** resource key → workload keys whose template references it. */
  private readonly refIndex = new Map<string, Set<string>>();
  /** namespace → workload keys whose named lists hold real patterns (they may name any resource). */
  private readonly namedIndex = new Map<string, Set<string>>();
  /** resource key → workload keys whose named lists name it exactly (the common case). */
  private readonly namedExact = new Map<string, Set<string>>();
  /** namespaces that match --namespace-selector (when set). */
  private readonly selectedNamespaces = new Set<string>();
  private readonly reflectors: Reflector<unknown>[] = [];
  private readonly waiters = new Map<string, Set<() => void>>();
  private listener: CacheListener | undefined;

  constructor(client: KubeClient, opts: CacheOptions) {
    this.o = opts;
    this.keys = annotationKeySet(opts.policy.annotations);
    this.build(client);
  }

  get annotations(): AnnotationNames {
    return this.o.policy.annotations;
  }

  /** Set the controller that reacts to changes (the webhook needs none). */
  setListener(l: CacheListener): void {
    this.listener = l;
  }

  private scopes(): (string | undefined)[] {
    return this.o.namespaces && this.o.namespaces.length > 0 ? [...this.o.namespaces] : [undefined];
  }

  private build(client: KubeClient): void {
    const pageSize = this.o.pageSize ?? 100;
    const common = {
      pageSize,
      ...(this.o.log ? { log: this.o.log } : {}),
    };
    if (this.o.namespaceSelector) {
      this.reflectors.push(
        new Reflector<string>(client, {
          ...common,
          name: 'namespaces',
          path: '/api/v1/namespaces',
          query: { labelSelector: this.o.namespaceSelector },
          transform: (raw) => ((raw.metadata ?? {}) as { name?: string }).name,
          onUpsert: (_k, ns, old) => {
            this.selectedNamespaces.add(ns);
            if (old === undefined) this.listener?.namespaceChanged(ns);
          },
          onDelete: (_k, ns) => {
            this.selectedNamespaces.delete(ns);
            this.listener?.namespaceChanged(ns);
          },
          onRestart: (r) => this.o.onRestart?.('namespaces', r),
        }) as Reflector<unknown>,
      );
    }
    for (const ns of this.scopes()) {
      for (const kind of ['ConfigMap', 'Secret'] as const) {
        const query: Record<string, string> = {};
        if (this.o.resourceLabelSelector) query.labelSelector = this.o.resourceLabelSelector;
        // Server-side filter: Helm keeps every release revision as a Secret,
        // often hundreds of KB each, which no workload mounts.
        if (kind === 'Secret' && !this.o.includeHelmSecrets) query.fieldSelector = `type!=${HELM_SECRET_TYPE}`;
        const name = `${kind.toLowerCase()}s${ns ? `/${ns}` : ''}`;
        this.reflectors.push(
          new Reflector<ResourceEntry>(client, {
            ...common,
            name,
            path: collectionPath(kind, ns),
            query,
            transform: (raw) => {
              const r = toResource(kind, raw, this.keys, this.o.includeHelmSecrets);
              return r && !this.o.namespacesToIgnore.has(r.namespace) ? r : undefined;
            },
            onUpsert: (_k, r, old, initial) => this.upsertResource(r, old, initial),
            onDelete: (_k, r) => this.deleteResource(r),
            onRestart: (reason) => this.o.onRestart?.(name, reason),
          }) as Reflector<unknown>,
        );
      }
      for (const kind of this.o.workloadKinds) {
        const name = `${kind.toLowerCase()}s${ns ? `/${ns}` : ''}`;
        this.reflectors.push(
          new Reflector<WorkloadEntry>(client, {
            ...common,
            name,
            path: collectionPath(kind, ns),
            transform: (raw) => {
              const w = toWorkload(kind, raw, this.keys);
              return w && !this.o.namespacesToIgnore.has(w.namespace) ? w : undefined;
            },
            onUpsert: (_k, w) => this.upsertWorkload(w),
            onDelete: (_k, w) => this.deleteWorkload(w),
            onRestart: (reason) => this.o.onRestart?.(name, reason),
          }) as Reflector<unknown>,
        );
      }
    }
  }

  /** Start every reflector. */
  start(): void {
    for (const r of this.reflectors) r.start();
  }

  /** Stop every reflector. */
  async stop(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop()));
    for (const set of this.waiters.values()) for (const w of set) w();
  }

  /** Resolves once every reflector has listed once. */
  async whenSynced(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.whenSynced()));
  }

  /** Reflector restarts so far (all reflectors). */
  get restarts(): number {
    return this.reflectors.reduce((n, r) => n + r.restarts, 0);
  }

  // ---- CacheView ----

  ready(): boolean {
    return this.reflectors.every((r) => r.synced);
  }

  /** Is this namespace in scope (watched, not ignored, selected)? */
  inScope(namespace: string): boolean {
    if (this.o.namespacesToIgnore.has(namespace)) return false;
    if (this.o.namespaces && this.o.namespaces.length > 0 && !this.o.namespaces.includes(namespace)) return false;
    if (this.o.namespaceSelector && !this.selectedNamespaces.has(namespace)) return false;
    return true;
  }

  covers(kind: ResourceKind | WorkloadKind, namespace: string): boolean {
    if (!this.inScope(namespace)) return false;
    if (kind === 'ConfigMap' || kind === 'Secret') {
      // With a label selector, a resource missing from the cache may simply
      // not carry the label: never worth waiting for.
      return !this.o.resourceLabelSelector && !this.o.policy.ignoredResourceKinds.has(kind);
    }
    return this.o.workloadKinds.has(kind);
  }

  getResource(kind: ResourceKind, namespace: string, name: string): ResourceEntry | undefined {
    const r = this.resources.get(cacheKey(kind, namespace, name));
    return r && this.inScope(namespace) ? r : undefined;
  }

  *listResources(kind: ResourceKind, namespace: string): Iterable<ResourceEntry> {
    if (!this.inScope(namespace)) return;
    // Named lists run this on the admission path: O(resources of the namespace).
    for (const r of this.resourcesByNs.get(namespace)?.values() ?? []) if (r.kind === kind) yield r;
  }

  getWorkload(kind: WorkloadKind, namespace: string, name: string): WorkloadEntry | undefined {
    const w = this.workloads.get(cacheKey(kind, namespace, name));
    return w && this.inScope(namespace) ? w : undefined;
  }

  /** Every cached workload (start-up and resync reconcile). */
  allWorkloads(): Iterable<WorkloadEntry> {
    return this.workloads.values();
  }

  /** Workloads that may be affected by a change of this resource: referencing or naming it. */
  dependents(kind: ResourceKind, namespace: string, name: string): WorkloadEntry[] {
    const out = new Map<string, WorkloadEntry>();
    const rk = cacheKey(kind, namespace, name);
    for (const k of [...(this.refIndex.get(rk) ?? []), ...(this.namedExact.get(rk) ?? [])]) {
      const w = this.workloads.get(k);
      if (w) out.set(k, w);
    }
    for (const k of this.namedIndex.get(namespace) ?? []) {
      const w = this.workloads.get(k);
      if (w && !out.has(k) && matchesNamed(policyOf(w, this.o.policy), kind, name)) out.set(k, w);
    }
    return [...out.values()];
  }

  /** Cached ConfigMaps and Secrets in a namespace (namespace selector changes). */
  resourcesIn(namespace: string): ResourceEntry[] {
    return [...(this.resourcesByNs.get(namespace)?.values() ?? [])];
  }

  /** Cached workloads in a namespace (namespace selector changes). */
  workloadsIn(namespace: string): WorkloadEntry[] {
    return [...this.workloads.values()].filter((w) => w.namespace === namespace);
  }

  waitFor(keys: readonly string[], timeoutMs: number): Promise<void> {
    const pending = keys.filter((k) => !this.resources.has(k) && !this.workloads.has(k));
    if (pending.length === 0 || timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      let left = pending.length;
      const hooks: [string, () => void][] = [];
      const finish = () => {
        clearTimeout(timer);
        for (const [k, h] of hooks) {
          const set = this.waiters.get(k);
          set?.delete(h);
          if (set?.size === 0) this.waiters.delete(k);
        }
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      for (const k of pending) {
        let fired = false;
        const h = () => {
          if (fired) return;
          fired = true;
          if (--left === 0) finish();
        };
        hooks.push([k, h]);
        let set = this.waiters.get(k);
        if (!set) this.waiters.set(k, (set = new Set()));
        set.add(h);
      }
    });
  }

  private wake(key: string): void {
    const set = this.waiters.get(key);
    if (set) for (const h of [...set]) h();
  }

  // ---- reflector callbacks ----

  private upsertResource(r: ResourceEntry, old: ResourceEntry | undefined, initial: boolean): void {
    const key = cacheKey(r.kind, r.namespace, r.name);
    this.resources.set(key, r);
    let ns = this.resourcesByNs.get(r.namespace);
    if (!ns) this.resourcesByNs.set(r.namespace, (ns = new Map()));
    ns.set(key, r);
    this.wake(key);
    this.listener?.resourceChanged(r, old, initial);
  }

  private deleteResource(r: ResourceEntry): void {
    const key = cacheKey(r.kind, r.namespace, r.name);
    this.resources.delete(key);
    const ns = this.resourcesByNs.get(r.namespace);
    ns?.delete(key);
    if (ns?.size === 0) this.resourcesByNs.delete(r.namespace);
    this.listener?.resourceDeleted(r);
  }

  /**
   * The index keys of a workload: resource keys it references or names
   * exactly, and whether it has real patterns (scanned per change).
   */
  private indexKeys(w: WorkloadEntry): { exact: { map: Map<string, Set<string>>; rk: string }[]; patterns: boolean } {
    const p = policyOf(w, this.o.policy);
    const out = { exact: [] as { map: Map<string, Set<string>>; rk: string }[], patterns: false };
    if (!isInterested(p)) return out;
    const refs = findReferences(w.template.spec);
    for (const kind of ['ConfigMap', 'Secret'] as const) {
      for (const n of refs[kind]) out.exact.push({ map: this.refIndex, rk: cacheKey(kind, w.namespace, n) });
      for (const re of p[kind].named) {
        const item = re.source.slice(1, -1); // compiled as ^item$
        if (PLAIN_NAME.test(item)) out.exact.push({ map: this.namedExact, rk: cacheKey(kind, w.namespace, item) });
        else out.patterns = true;
      }
    }
    return out;
  }

  private unindex(key: string, w: WorkloadEntry): void {
    const { exact } = this.indexKeys(w);
    for (const { map, rk } of exact) {
      const set = map.get(rk);
      set?.delete(key);
      if (set?.size === 0) map.delete(rk);
    }
    const named = this.namedIndex.get(w.namespace);
    named?.delete(key);
    if (named?.size === 0) this.namedIndex.delete(w.namespace);
  }

  private index(key: string, w: WorkloadEntry): void {
    const { exact, patterns } = this.indexKeys(w);
    for (const { map, rk } of exact) {
      let set = map.get(rk);
      if (!set) map.set(rk, (set = new Set()));
      set.add(key);
    }
    if (patterns) {
      let set = this.namedIndex.get(w.namespace);
      if (!set) this.namedIndex.set(w.namespace, (set = new Set()));
      set.add(key);
    }
  }

  private upsertWorkload(w: WorkloadEntry): void {
    const key = cacheKey(w.kind, w.namespace, w.name);
    const old = this.workloads.get(key);
    // Status updates (several per rollout) leave the kept fields unchanged:
    // nothing a reconcile could decide differently, so no notification.
    if (old && JSON.stringify(old) === JSON.stringify(w)) return;
    if (old) this.unindex(key, old);
    this.workloads.set(key, w);
    this.index(key, w);
    this.wake(key);
    this.listener?.workloadChanged(w);
  }

  private deleteWorkload(w: WorkloadEntry): void {
    const key = cacheKey(w.kind, w.namespace, w.name);
    this.unindex(key, w);
    this.workloads.delete(key);
    this.listener?.workloadDeleted(w);
  }
}
