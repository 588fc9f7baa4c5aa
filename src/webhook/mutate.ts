/**
 * Pure admission logic: an AdmissionRequest for a Pod plus a read-only view
 * of the caches in, the AdmissionReview to answer out (DESIGN.md §5). It
 * never calls the API server; when the caches lack something it says what to
 * wait for, and the handler decides how long.
 */
import fjp from 'fast-json-patch';
import { planStamps, policyOf, type Stamp } from '../core/plan.ts';
import { isInterested, type PolicyOptions } from '../core/policy.ts';
import type { CacheView, Container, EnvVar, Pod, PodSpec } from '../core/types.ts';
import { resolveOwner } from './owner.ts';
import { allow, allowWithPatch, type AdmissionRequest, type AdmissionOutcome } from './review.ts';

/** Either a final answer, or the cache keys worth waiting for first. */
export type MutateStep =
  | { kind: 'done'; outcome: Extract<AdmissionOutcome, { status: 200 }>; detail?: string }
  | { kind: 'wait'; keys: string[] };

/**
 * Return a copy of `pod` whose containers carry every stamp's env var with
 * its current value. Only the containers and env arrays that change are
 * copied (structural sharing), so diffing with fast-json-patch skips the
 * untouched parts by reference and nothing else is cloned.
 */
export function applyStamps(pod: Pod, stamps: readonly Stamp[]): Pod {
  const containers = pod.spec?.containers;
  if (!containers || stamps.length === 0) return pod;
  const next: Container[] = containers.slice();
  let changed = false;
  for (const s of stamps) {
    const c = next[s.container];
    if (!c) continue;
    const env: EnvVar[] = c.env ?? [];
    const i = env.findIndex((e) => e.name === s.envName);
    const cur = i >= 0 ? env[i] : undefined;
    if (cur && cur.value === s.hash && cur.valueFrom === undefined) continue;
    const nextEnv = env.slice();
    if (i >= 0) nextEnv[i] = { name: s.envName, value: s.hash };
    else nextEnv.push({ name: s.envName, value: s.hash });
    next[s.container] = { ...c, env: nextEnv };
    changed = true;
  }
  if (!changed) return pod;
  return { ...pod, spec: { ...pod.spec, containers: next } };
}

/**
 * The pod spec as its workload's template has it, for planning: without the
 * `kube-api-access-*` volume that the ServiceAccount admission plugin adds to
 * every pod (a projected serviceAccountToken + the `kube-root-ca.crt`
 * ConfigMap). The template never references it, so the watcher never follows
 * it, and stamping it would only add noise to every auto pod.
 */
function templateSpec(pod: Pod): PodSpec | undefined {
  const spec = pod.spec;
  const vols = spec?.volumes;
  if (!spec || !vols) return spec;
  const kept = vols.filter((v) => !(v.name.startsWith('kube-api-access-') && v.projected?.sources?.some((s) => s.serviceAccountToken !== undefined)));
  return kept.length === vols.length ? spec : { ...spec, volumes: kept };
}

/**
 * One pass of admission for `req`. With `final` false, a cache miss yields
 * `wait`; with `final` true it answers with what the caches hold.
 */
export function mutatePod(req: AdmissionRequest, view: CacheView, policy: PolicyOptions, final: boolean): MutateStep {
  const done = (result: 'not-ours' | 'unchanged' | 'cache-miss', detail?: string): MutateStep => ({
    kind: 'done',
    outcome: { status: 200, review: allow(req.uid), result },
    ...(detail ? { detail } : {}),
  });
  const pod = req.object;
  if (req.operation !== 'CREATE' || req.kind?.kind !== 'Pod' || !pod || typeof pod !== 'object') {
    return done('not-ours', 'not a Pod CREATE');
  }
  const namespace = pod.metadata?.namespace || req.namespace;
  if (!namespace) return done('not-ours', 'no namespace');
  const owner = resolveOwner(pod, namespace, view);
  if (owner.kind === 'none') return done('not-ours', owner.why);
  if (owner.kind === 'missing') return final ? done('cache-miss', `owner not cached: ${owner.keys.join(', ')}`) : { kind: 'wait', keys: owner.keys };
  if (!isInterested(policyOf(owner.workload, policy))) return done('not-ours', 'owner not annotated for reloads');
  const plan = planStamps(owner.workload, templateSpec(pod), view, policy);
  if (plan.missing.length > 0 && !final) return { kind: 'wait', keys: plan.missing };
  const mutated = applyStamps(pod, plan.stamps);
  const missDetail = plan.missing.length > 0 ? `resources not cached: ${plan.missing.join(', ')}` : undefined;
  if (mutated === pod) return done(plan.missing.length > 0 ? 'cache-miss' : 'unchanged', missDetail);
  const ops = fjp.compare(pod, mutated);
  return {
    kind: 'done',
    outcome: { status: 200, review: allowWithPatch(req.uid, JSON.stringify(ops)), result: 'patched' },
    ...(missDetail ? { detail: missDetail } : {}),
  };
}
