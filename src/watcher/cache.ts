/**
 * The caches: one reflector per watched kind (and namespace, when the watch
 * is limited), the CacheView the webhook reads, and the reverse index from
 * each ConfigMap/Secret to the workloads that reference or name it, so a
 * change costs O(its dependents) rather than a scan of every workload.
 *
 * Each kind has one store (namespace → name → entry) that its reflectors
 * fill and everything here reads: an object is held once, under no key
 * string of its own.
 */
import type { AnnotationNames } from '../core/annotations.ts';
import { findReferences } from '../core/refs.ts';
import { isInterested, matchesNamed, type PolicyOptions } from '../core/policy.ts';
import { policyOf } from '../core/plan.ts';
import { cacheKey, type CacheView, type ResourceKind, type WorkloadEntry, type WorkloadKind } from '../core/types.ts';
import type { KubeClient } from './kube-client.ts';
import { collectionPath } from './paths.ts';
import { ListGate } from './list-gate.ts';
import { Reflector } from './reflector.ts';
import { KindStore, MultiIndex } from './store.ts';
import { annotationKeySet, HELM_SECRET_TYPE, toResource, toWorkload, type CachedResource } from './transform.ts';

export type { CachedResource } from './transform.ts';

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
  /** LIST page size of ConfigMaps and workloads (100). */
  pageSize?: number;
  /**
   * LIST page size of Secrets (25). Secrets are the big objects (up to 1 MiB
   * each; 1k × 100 KB in the benchmark): a smaller page bounds the garbage a
   * page leaves (25 MiB at worst instead of 100) for 4× the round trips of
   * the kind that is usually the fewest.
   */
  secretPageSize?: number;
  log?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void; info(obj: object, msg: string): void };
  onRestart?: (reflector: string, reason: string) => void;
}

/** A change the controller reacts to (it re-reads state; it never branches on the kind of change). */
export interface CacheListener {
  resourceChanged(r: CachedResource, old: CachedResource | undefined, initial: boolean): void;
  resourceDeleted(r: CachedResource): void;
  workloadChanged(w: WorkloadEntry): void;
  workloadDeleted(w: WorkloadEntry): void;
  namespaceChanged(ns: string): void;
}

/** A named-list item that can only match itself ('.' is a regex wildcard, so it is not plain). */
const PLAIN_NAME = /^[a-z0-9-]+$/;

const RESOURCE_KINDS = ['ConfigMap', 'Secret'] as const;

/** `Kind/namespace/name` → its parts (names and namespaces hold no '/'). */
function splitKey(key: string): [string, string, string] | undefined {
  const i = key.indexOf('/');
  const j = key.indexOf('/', i + 1);
  return i < 0 || j < 0 ? undefined : [key.slice(0, i), key.slice(i + 1, j), key.slice(j + 1)];
}

/** The watcher's caches; also the webhook's CacheView. */
export class Caches implements CacheView {
  private readonly o: CacheOptions;
  private readonly keys: ReadonlySet<string>;
  /** The ConfigMaps and the Secrets, each kind in one store filled by its reflectors. */
  private readonly resources: Record<ResourceKind, KindStore<CachedResource>> = { ConfigMap: new KindStore(), Secret: new KindStore() };
  /** One store per watched workload kind. */
  private readonly workloads = new Map<WorkloadKind, KindStore<WorkloadEntry>>();
  /** resource (namespace, name) → workloads whose template references it; only referenced resources have an entry. */
  private readonly refIndex: Record<ResourceKind, MultiIndex<WorkloadEntry>> = { ConfigMap: new MultiIndex(), Secret: new MultiIndex() };
  /** namespace → workloads whose named lists hold real patterns (they may name any resource). */
  private readonly namedIndex = new Map<string, Set<WorkloadEntry>>();
  /** resource (namespace, name) → workloads whose named lists name it exactly (the common case). */
  private readonly namedExact: Record<ResourceKind, MultiIndex<WorkloadEntry>> = { ConfigMap: new MultiIndex(), Secret: new MultiIndex() };
  /** One string per namespace, shared by its entries (the wire gives each object its own copy). */
  private readonly nsNames = new Map<string, string>();
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
    // Deduplicated: two reflectors of one (kind, namespace) would share a store.
    return this.o.namespaces && this.o.namespaces.length > 0 ? [...new Set(this.o.namespaces)] : [undefined];
  }

  /** The shared copy of a namespace name. */
  private nsName(ns: string): string {
    const s = this.nsNames.get(ns);
    if (s !== undefined) return s;
    this.nsNames.set(ns, ns);
    return ns;
  }

  private workloadStore(kind: WorkloadKind): KindStore<WorkloadEntry> {
    let s = this.workloads.get(kind);
    if (!s) this.workloads.set(kind, (s = new KindStore()));
    return s;
  }

  private build(client: KubeClient): void {
    const pageSize = this.o.pageSize ?? 100;
    const common = {
      pageSize,
      gate: new ListGate(),
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
          onUpsert: (ns, old) => {
            this.selectedNamespaces.add(ns);
            if (old === undefined) this.listener?.namespaceChanged(ns);
          },
          onDelete: (ns) => {
            this.selectedNamespaces.delete(ns);
            this.listener?.namespaceChanged(ns);
          },
          onRestart: (r) => this.o.onRestart?.('namespaces', r),
        }) as Reflector<unknown>,
      );
    }
    for (const ns of this.scopes()) {
      for (const kind of RESOURCE_KINDS) {
        const query: Record<string, string> = {};
        if (this.o.resourceLabelSelector) query.labelSelector = this.o.resourceLabelSelector;
        // Server-side filter: Helm keeps every release revision as a Secret,
        // often hundreds of KB each, which no workload mounts.
        if (kind === 'Secret' && !this.o.includeHelmSecrets) query.fieldSelector = `type!=${HELM_SECRET_TYPE}`;
        const name = `${kind.toLowerCase()}s${ns ? `/${ns}` : ''}`;
        this.reflectors.push(
          new Reflector<CachedResource>(client, {
            ...common,
            ...(kind === 'Secret' ? { pageSize: this.o.secretPageSize ?? 25 } : {}),
            name,
            path: collectionPath(kind, ns),
            query,
            store: this.resources[kind],
            ...(ns !== undefined ? { namespace: ns } : {}),
            transform: (raw) => {
              const r = toResource(kind, raw, this.keys, this.o.includeHelmSecrets);
              if (!r || this.o.namespacesToIgnore.has(r.namespace)) return undefined;
              r.namespace = this.nsName(r.namespace);
              return r;
            },
            onUpsert: (r, old, initial) => this.upsertResource(r, old, initial),
            onDelete: (r) => this.deleteResource(r),
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
            store: this.workloadStore(kind),
            ...(ns !== undefined ? { namespace: ns } : {}),
            transform: (raw) => {
              const w = toWorkload(kind, raw, this.keys);
              if (!w || this.o.namespacesToIgnore.has(w.namespace)) return undefined;
              w.namespace = this.nsName(w.namespace);
              return w;
            },
            // Status updates (several per rollout) leave the kept fields unchanged:
            // nothing a reconcile could decide differently, so the store keeps
            // the indexed entry and nobody is notified.
            unchanged: (old, w) => JSON.stringify(old) === JSON.stringify(w),
            onUpsert: (w, old) => this.upsertWorkload(w, old),
            onDelete: (w) => this.deleteWorkload(w),
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

  getResource(kind: ResourceKind, namespace: string, name: string): CachedResource | undefined {
    const r = this.resources[kind].get(namespace, name);
    return r && this.inScope(namespace) ? r : undefined;
  }

  /** The cached entry whether or not its namespace is in scope now (the controller's firstSeen). */
  cachedResource(kind: ResourceKind, namespace: string, name: string): CachedResource | undefined {
    return this.resources[kind].get(namespace, name);
  }

  *listResources(kind: ResourceKind, namespace: string): Iterable<CachedResource> {
    if (!this.inScope(namespace)) return;
    // Named lists run this on the admission path: O(resources of the kind in the namespace).
    yield* this.resources[kind].valuesIn(namespace);
  }

  getWorkload(kind: WorkloadKind, namespace: string, name: string): WorkloadEntry | undefined {
    const w = this.workloads.get(kind)?.get(namespace, name);
    return w && this.inScope(namespace) ? w : undefined;
  }

  /** Every cached workload (start-up and resync reconcile). */
  *allWorkloads(): Iterable<WorkloadEntry> {
    for (const s of this.workloads.values()) yield* s.values();
  }

  /** Workloads that may be affected by a change of this resource: referencing or naming it. */
  dependents(kind: ResourceKind, namespace: string, name: string): WorkloadEntry[] {
    const out = new Set<WorkloadEntry>();
    for (const w of this.refIndex[kind].get(namespace, name)) out.add(w);
    for (const w of this.namedExact[kind].get(namespace, name)) out.add(w);
    for (const w of this.namedIndex.get(namespace) ?? []) {
      if (!out.has(w) && matchesNamed(policyOf(w, this.o.policy), kind, name)) out.add(w);
    }
    return [...out];
  }

  /** Cached ConfigMaps and Secrets in a namespace (namespace selector changes). */
  resourcesIn(namespace: string): CachedResource[] {
    return [...this.resources.ConfigMap.valuesIn(namespace), ...this.resources.Secret.valuesIn(namespace)];
  }

  /** Cached workloads in a namespace (namespace selector changes). */
  workloadsIn(namespace: string): WorkloadEntry[] {
    const out: WorkloadEntry[] = [];
    for (const s of this.workloads.values()) out.push(...s.valuesIn(namespace));
    return out;
  }

  /** Is the object of this `Kind/namespace/name` key cached (in scope or not)? */
  private has(key: string): boolean {
    const p = splitKey(key);
    if (!p) return false;
    const [kind, ns, name] = p;
    const store = kind === 'ConfigMap' || kind === 'Secret' ? this.resources[kind] : this.workloads.get(kind as WorkloadKind);
    return store?.has(ns, name) ?? false;
  }

  waitFor(keys: readonly string[], timeoutMs: number): Promise<void> {
    const pending = keys.filter((k) => !this.has(k));
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

  // The reflectors have already put the entry in (or taken it out of) the store.

  private upsertResource(r: CachedResource, old: CachedResource | undefined, initial: boolean): void {
    if (this.waiters.size > 0) this.wake(cacheKey(r.kind, r.namespace, r.name));
    this.listener?.resourceChanged(r, old, initial);
  }

  private deleteResource(r: CachedResource): void {
    this.listener?.resourceDeleted(r);
  }

  /**
   * Visit the index entries of a workload: the resources it references or
   * names exactly; returns whether it has real patterns (scanned per change).
   */
  private indexEntries(w: WorkloadEntry, visit: (index: MultiIndex<WorkloadEntry>, name: string) => void): boolean {
    const p = policyOf(w, this.o.policy);
    if (!isInterested(p)) return false;
    let patterns = false;
    const refs = findReferences(w.template.spec);
    for (const kind of RESOURCE_KINDS) {
      for (const n of refs[kind]) visit(this.refIndex[kind], n);
      for (const re of p[kind].named) {
        const item = re.source.slice(1, -1); // compiled as ^item$
        if (PLAIN_NAME.test(item)) visit(this.namedExact[kind], item);
        else patterns = true;
      }
    }
    return patterns;
  }

  private unindex(w: WorkloadEntry): void {
    this.indexEntries(w, (index, name) => index.remove(w.namespace, name, w));
    const named = this.namedIndex.get(w.namespace);
    named?.delete(w);
    if (named?.size === 0) this.namedIndex.delete(w.namespace);
  }

  private index(w: WorkloadEntry): void {
    const patterns = this.indexEntries(w, (index, name) => index.add(w.namespace, name, w));
    if (patterns) {
      let set = this.namedIndex.get(w.namespace);
      if (!set) this.namedIndex.set(w.namespace, (set = new Set()));
      set.add(w);
    }
  }

  /** `w` replaced `old` in the store (an unchanged one never gets here: see `unchanged`). */
  private upsertWorkload(w: WorkloadEntry, old: WorkloadEntry | undefined): void {
    if (old) this.unindex(old);
    this.index(w);
    if (this.waiters.size > 0) this.wake(cacheKey(w.kind, w.namespace, w.name));
    this.listener?.workloadChanged(w);
  }

  private deleteWorkload(w: WorkloadEntry): void {
    this.unindex(w);
    this.listener?.workloadDeleted(w);
  }
}
