/**
 * The caches' stores, keyed by namespace and then name: a cached object
 * costs one map slot and no `ns/name` or `Kind/ns/name` key string (at 30k
 * objects, the concatenated keys of the former per-object maps were a third
 * of the caches' heap).
 */

/** The objects of one kind: namespace → name → entry. Cluster-scoped objects live under namespace ''. */
export class KindStore<T> {
  private readonly byNs = new Map<string, Map<string, T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(namespace: string, name: string): T | undefined {
    return this.byNs.get(namespace)?.get(name);
  }

  has(namespace: string, name: string): boolean {
    return this.byNs.get(namespace)?.has(name) ?? false;
  }

  set(namespace: string, name: string, value: T): void {
    let m = this.byNs.get(namespace);
    if (!m) this.byNs.set(namespace, (m = new Map()));
    const n = m.size;
    m.set(name, value);
    this.count += m.size - n;
  }

  /** Remove an entry; returns it. An emptied namespace is dropped. */
  delete(namespace: string, name: string): T | undefined {
    const m = this.byNs.get(namespace);
    const old = m?.get(name);
    if (!m || !m.delete(name)) return undefined;
    this.count--;
    if (m.size === 0) this.byNs.delete(namespace);
    return old;
  }

  /** The entries of one namespace (insertion order). */
  *valuesIn(namespace: string): IterableIterator<T> {
    const m = this.byNs.get(namespace);
    if (m) yield* m.values();
  }

  /** Every entry. */
  *values(): IterableIterator<T> {
    for (const m of this.byNs.values()) yield* m.values();
  }

  /**
   * `[namespace, name, entry]` of one namespace, or of all when `namespace`
   * is undefined. Deleting the entry just yielded is allowed (the relist
   * sweep does).
   */
  *entries(namespace?: string): IterableIterator<[string, string, T]> {
    if (namespace !== undefined) {
      const m = this.byNs.get(namespace);
      if (m) for (const [name, v] of m) yield [namespace, name, v];
      return;
    }
    for (const [ns, m] of this.byNs) for (const [name, v] of m) yield [ns, name, v];
  }
}

/**
 * (namespace, name) → the values filed under it, insertion-ordered and
 * without duplicates. One value is kept as is; a Set is made only for a
 * second one (most resources have one dependent).
 */
export class MultiIndex<V extends object> {
  private readonly byNs = new Map<string, Map<string, V | Set<V>>>();

  add(namespace: string, name: string, v: V): void {
    let m = this.byNs.get(namespace);
    if (!m) this.byNs.set(namespace, (m = new Map()));
    const cur = m.get(name);
    if (cur === undefined) m.set(name, v);
    else if (cur instanceof Set) cur.add(v);
    else if (cur !== v) m.set(name, new Set([cur, v]));
  }

  remove(namespace: string, name: string, v: V): void {
    const m = this.byNs.get(namespace);
    const cur = m?.get(name);
    if (!m || cur === undefined) return;
    if (cur instanceof Set) {
      cur.delete(v);
      if (cur.size === 1) m.set(name, cur.values().next().value!);
    } else if (cur === v) {
      m.delete(name);
      if (m.size === 0) this.byNs.delete(namespace);
    }
  }

  /** The values under (namespace, name), in insertion order. */
  get(namespace: string, name: string): readonly V[] {
    const cur = this.byNs.get(namespace)?.get(name);
    if (cur === undefined) return [];
    return cur instanceof Set ? [...cur] : [cur];
  }
}
