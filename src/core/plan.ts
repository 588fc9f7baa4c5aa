/**
 * Which env vars a pod spec should carry for a workload: one stamp per
 * qualifying ConfigMap/Secret, with its current hash and the container it
 * goes on (DESIGN.md §4). Shared by the webhook (stamping a new pod) and the
 * watcher (desired state of a pod template).
 */
import { decide, isInterested, workloadPolicy, type PolicyOptions, type WorkloadPolicy } from './policy.ts';
import { chooseContainer, envVarName, findReferences } from './refs.ts';
import { cacheKey, type CacheView, type PodSpec, type ResourceEntry, type ResourceKind, type WorkloadEntry } from './types.ts';

/** One env var to carry: `envName=hash` on `spec.containers[container]`. */
export interface Stamp {
  kind: ResourceKind;
  namespace: string;
  name: string;
  hash: string;
  envName: string;
  container: number;
}

/** The stamps of a workload, plus the cache keys it would need but lacks. */
export interface Plan {
  stamps: Stamp[];
  /** `Kind/ns/name` of referenced resources the policy may want but the cache lacks. */
  missing: string[];
}

const KINDS: readonly ResourceKind[] = ['ConfigMap', 'Secret'];

// Policies memoised per cache entry: an entry is immutable (an update
// replaces it), and the webhook, the reverse index and reconcile all ask for
// the same workload's policy; recomputing re-parses annotations and regexes
// (23 ms per change with 10k named workloads in a namespace, measured).
const memo = new WeakMap<WorkloadEntry, { opts: PolicyOptions; policy: WorkloadPolicy }>();

/** The policy of a cached workload (own annotations, template fallback), memoised per entry. */
export function policyOf(w: WorkloadEntry, opts: PolicyOptions): WorkloadPolicy {
  const m = memo.get(w);
  if (m && m.opts === opts) return m.policy;
  const policy = workloadPolicy(w.kind, w.annotations, w.template.metadata?.annotations, opts);
  memo.set(w, { opts, policy });
  return policy;
}

/**
 * Plan the stamps of `workload` for the pod spec `spec` (the template's, or
 * a new pod's, which is a copy of it). Candidates are the resources the spec
 * references plus, for named lists, every cached resource of the namespace
 * whose name matches. Stamps are sorted by container, then env name, so the
 * result does not depend on map order.
 */
export function planStamps(
  workload: WorkloadEntry,
  spec: PodSpec | undefined,
  view: Pick<CacheView, 'getResource' | 'listResources' | 'covers'>,
  opts: PolicyOptions,
): Plan {
  const policy = policyOf(workload, opts);
  const out: Plan = { stamps: [], missing: [] };
  if (!isInterested(policy)) return out;
  const ns = workload.namespace;
  const refs = findReferences(spec);
  for (const kind of KINDS) {
    if (opts.ignoredResourceKinds.has(kind)) continue;
    const kp = policy[kind];
    const candidates = new Map<string, ResourceEntry | undefined>();
    for (const name of refs[kind]) candidates.set(name, view.getResource(kind, ns, name));
    if (kp.named.length > 0) {
      for (const r of view.listResources(kind, ns)) {
        if (!candidates.has(r.name) && kp.named.some((re) => re.test(r.name))) candidates.set(r.name, r);
      }
    }
    for (const [name, res] of candidates) {
      if (!res) {
        const wanted = kp.auto || kp.search || kp.named.some((re) => re.test(name));
        if (wanted && view.covers(kind, ns)) out.missing.push(cacheKey(kind, ns, name));
        continue;
      }
      const d = decide(policy, res, refs[kind].has(name), opts);
      if (!d.reload) continue;
      const container = chooseContainer(spec, kind, name, d.auto);
      if (container === undefined) continue;
      out.stamps.push({ kind, namespace: ns, name, hash: res.hash, envName: envVarName(kind, name), container });
    }
  }
  out.stamps.sort((a, b) => a.container - b.container || (a.envName < b.envName ? -1 : a.envName > b.envName ? 1 : 0));
  return out;
}
