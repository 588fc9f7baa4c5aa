/**
 * The stamps of a namespace's pods, listed once for a whole start-up or
 * resync pass instead of once per workload.
 *
 * Why: a pass reconciles every annotated workload, and each one whose
 * template carries no stamp yet needs its pods' stamps (DESIGN.md §6). One
 * LIST per workload was 10,000 LISTs at every start-up and every resync
 * (5 min) in a namespace of 10,000 Deployments; one paginated LIST per
 * namespace is a few, and each pod is reduced to its labels and stamps as
 * its page arrives. Real changes still list their workload's pods fresh.
 */
import type { StringMap } from '../core/types.ts';
import type { PodStampSource } from './decide.ts';
import type { ListPage, Query } from './kube-client.ts';
import { STAMP_PREFIX } from './template.ts';

/** A pod reduced to what deciding needs: labels (selector matching), times and stamps. */
export interface PodStamps extends PodStampSource {
  labels: StringMap;
}

/** Reduce a raw pod to its labels, times and stamp env vars. */
export function reducePod(raw: Record<string, unknown>): PodStamps {
  const m = (raw.metadata ?? {}) as { labels?: StringMap; creationTimestamp?: string; deletionTimestamp?: string };
  const containers = ((raw.spec ?? {}) as PodStampSource['spec'])?.containers ?? [];
  return {
    labels: m.labels ?? {},
    metadata: { ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}), ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}) },
    spec: { containers: containers.map((c) => ({ env: (c.env ?? []).filter((e) => e.name.startsWith(STAMP_PREFIX)).map((e) => ({ name: e.name, ...(e.value !== undefined ? { value: e.value } : {}) })) })) },
  };
}

/** One requirement of a label selector. */
export type SelectorTerm =
  | { op: 'eq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'absent'; key: string };

/**
 * Parse a selector in the string form of transform.ts `selectorString`
 * (`k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-separated; label
 * values hold no commas or parentheses).
 */
export function parseSelector(selector: string): SelectorTerm[] {
  const out: SelectorTerm[] = [];
  for (const term of selector.match(/[^,(]+(?:\([^)]*\))?/g) ?? []) {
    const t = term.trim();
    if (!t) continue;
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
    const eq = t.indexOf('=');
    if (set) out.push({ op: set[2] as 'in' | 'notin', key: set[1]!, values: set[3]!.split(',').map((v) => v.trim()) });
    else if (eq > 0) out.push({ op: 'eq', key: t.slice(0, eq), value: t.slice(eq + 1) });
    else if (t.startsWith('!')) out.push({ op: 'absent', key: t.slice(1) });
    else out.push({ op: 'exists', key: t });
  }
  return out;
}

/** Does a label set meet every term? */
export function matchesTerms(terms: readonly SelectorTerm[], labels: StringMap): boolean {
  for (const term of terms) {
    const has = Object.hasOwn(labels, term.key);
    const v = labels[term.key];
    switch (term.op) {
      case 'eq':
        if (!has || v !== term.value) return false;
        break;
      case 'in':
        if (!has || !term.values.includes(v!)) return false;
        break;
      case 'notin':
        if (has && term.values.includes(v!)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case 'absent':
        if (has) return false;
        break;
    }
  }
  return true;
}

/**
 * A namespace's pods, indexed by `key=value` of every label: a selector's
 * rarest equality term narrows the candidates, so matching a workload costs
 * about its own pods, not the namespace's (10,000 workloads × 10,000 pods
 * would be 10^8 label checks per pass).
 */
class PodIndex {
  private readonly all: PodStamps[];
  private readonly byLabel = new Map<string, PodStamps[]>();

  constructor(pods: PodStamps[]) {
    this.all = pods;
    for (const p of pods) {
      for (const [k, v] of Object.entries(p.labels)) {
        const kv = `${k}=${v}`;
        let list = this.byLabel.get(kv);
        if (!list) this.byLabel.set(kv, (list = []));
        list.push(p);
      }
    }
  }

  matching(terms: readonly SelectorTerm[]): PodStamps[] {
    let candidates = this.all;
    for (const t of terms) {
      if (t.op !== 'eq') continue;
      const list = this.byLabel.get(`${t.key}=${t.value}`) ?? [];
      if (list.length < candidates.length) candidates = list;
    }
    return candidates.filter((p) => matchesTerms(terms, p.labels));
  }
}

/** Pod LIST pages of a namespace. */
export type ListPods = (namespace: string, query: Query) => Promise<ListPage>;

/**
 * Per-namespace pod snapshots, each kept for `ttlMs` (10 s: a pass of 10,000
 * workloads takes a few seconds; a staler snapshot could miss a pod created
 * since, and its stamp).
 */
export class PodSnapshots {
  private readonly list: ListPods;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly byNs = new Map<string, { at: number; pods: Promise<PodIndex> }>();
  private sweep: NodeJS.Timeout | undefined;

  constructor(list: ListPods, opts: { ttlMs?: number; now?: () => number } = {}) {
    this.list = list;
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** The namespace's pods (reduced, indexed), listed at most once per `ttlMs`. A failed LIST is not kept. */
  private index(namespace: string): Promise<PodIndex> {
    const now = this.now();
    const hit = this.byNs.get(namespace);
    if (hit && now - hit.at < this.ttlMs) return hit.pods;
    const pods = this.listAll(namespace).then((list) => new PodIndex(list));
    const entry = { at: now, pods };
    this.byNs.set(namespace, entry);
    pods.catch(() => {
      if (this.byNs.get(namespace) === entry) this.byNs.delete(namespace);
    });
    // Nothing is kept past a pass: drop expired snapshots once they are.
    this.sweep ??= setTimeout(() => this.expire(), this.ttlMs).unref();
    return pods;
  }

  /** Pods of the namespace that `selector` matches. */
  async matching(namespace: string, selector: string): Promise<PodStamps[]> {
    return (await this.index(namespace)).matching(parseSelector(selector));
  }

  /** Forget everything (stop, losing leadership). */
  clear(): void {
    this.byNs.clear();
    if (this.sweep) clearTimeout(this.sweep);
    this.sweep = undefined;
  }

  private expire(): void {
    this.sweep = undefined;
    const now = this.now();
    for (const [ns, e] of this.byNs) if (now - e.at >= this.ttlMs) this.byNs.delete(ns);
    if (this.byNs.size > 0) this.sweep = setTimeout(() => this.expire(), this.ttlMs).unref();
  }

  private async listAll(namespace: string): Promise<PodStamps[]> {
    const out: PodStamps[] = [];
    let cont: string | undefined;
    do {
      const page = await this.list(namespace, { limit: 500, continue: cont });
      for (const raw of page.items) out.push(reducePod(raw));
      cont = page.continue;
    } while (cont);
    return out;
  }
}
