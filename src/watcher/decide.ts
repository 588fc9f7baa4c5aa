/**
 * The reconcile decision (DESIGN.md §6), pure: given what a workload should
 * carry (desired stamps) and what its template, its pods and this process's
 * memory say, which resources reload it. Level-triggered: no event types.
 */
import type { Stamp } from '../core/plan.ts';
import { typeWord, type LastReloadedFrom } from './template.ts';

export type ReloadReason = 'template-differs' | 'pod-stamp-differs' | 'changed-while-running';

/** Desired stamps split by what the template tells about them. */
export interface TemplateVerdict {
  /** The template carries a different value: reload. */
  differs: Stamp[];
  /** The template carries nothing for these: pods or memory decide. */
  unknown: Stamp[];
}

/**
 * Compare desired stamps with the template: env vars (env-vars strategy) or
 * the `last-reloaded-from` annotation (annotations strategy, which names one
 * resource only; the others carry nothing).
 */
export function compareTemplate(
  desired: readonly Stamp[],
  strategy: 'env-vars' | 'annotations',
  carriedEnv: ReadonlyMap<string, string>,
  lastReloaded: LastReloadedFrom | undefined,
): TemplateVerdict {
  const out: TemplateVerdict = { differs: [], unknown: [] };
  for (const s of desired) {
    let carried: string | undefined;
    if (strategy === 'env-vars') carried = carriedEnv.get(s.envName);
    else if (lastReloaded && lastReloaded.type === typeWord(s.kind) && lastReloaded.name === s.name) carried = lastReloaded.hash;
    if (carried === undefined) out.unknown.push(s);
    else if (carried !== s.hash) out.differs.push(s);
  }
  return out;
}

/**
 * For stamps the template says nothing about: the newest pod stamped for the
 * resource tells whether the config changed since it started; without any
 * stamp, a hash different from the one this process first saw (or last
 * applied) means a change seen while running — Reloader's behaviour, so a
 * cluster that switches over keeps reloading. At start-up the baseline is
 * the current hash, so nothing restarts.
 */
export function resolveUnknown(
  unknown: readonly Stamp[],
  podStamps: ReadonlyMap<string, string>,
  baseline: (s: Stamp) => string | undefined,
): { stamp: Stamp; reason: ReloadReason }[] {
  const out: { stamp: Stamp; reason: ReloadReason }[] = [];
  for (const s of unknown) {
    const pod = podStamps.get(s.envName);
    if (pod !== undefined) {
      if (pod !== s.hash) out.push({ stamp: s, reason: 'pod-stamp-differs' });
      continue;
    }
    const base = baseline(s);
    if (base !== undefined && base !== s.hash) out.push({ stamp: s, reason: 'changed-while-running' });
  }
  return out;
}

/** Pod fields read for stamps. */
export interface PodStampSource {
  metadata?: { creationTimestamp?: string; deletionTimestamp?: string };
  spec?: { containers?: { env?: { name: string; value?: string }[] }[] };
}

/**
 * For each env name, the value on the newest pod that carries it. Older pods
 * of an ongoing rollout may carry older stamps; the newest pod says what the
 * current template started with.
 */
export function newestStamps(pods: readonly PodStampSource[], names: ReadonlySet<string>): Map<string, string> {
  const best = new Map<string, { at: number; value: string }>();
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    const at = Date.parse(p.metadata?.creationTimestamp ?? '') || 0;
    for (const c of p.spec?.containers ?? []) {
      for (const e of c.env ?? []) {
        if (!names.has(e.name) || e.value === undefined) continue;
        const cur = best.get(e.name);
        if (!cur || at > cur.at) best.set(e.name, { at, value: e.value });
      }
    }
  }
  return new Map([...best].map(([k, v]) => [k, v.value]));
}
