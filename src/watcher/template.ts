/**
 * What a pod template carries (observed state) and the patches that change
 * it: strategic merge patches, merged by container name and env var name,
 * so a patch touches only our env vars and nothing a user wrote.
 */
import type { Stamp } from '../core/plan.ts';
import type { PodSpec, PodTemplateSpec, ResourceKind, StringMap } from '../core/types.ts';

/** Every env var we write starts with this (Reloader's prefix). */
export const STAMP_PREFIX = 'STAKATER_';

/** `STAKATER_*` env vars of a pod spec: name → value (first container that has it). */
export function carriedEnv(spec: PodSpec | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of spec?.containers ?? []) {
    for (const e of c.env ?? []) {
      if (e.name.startsWith(STAMP_PREFIX) && e.value !== undefined && !out.has(e.name)) out.set(e.name, e.value);
    }
  }
  return out;
}

/** The JSON of the annotations strategy's `last-reloaded-from` annotation. */
export interface LastReloadedFrom {
  type: 'CONFIGMAP' | 'SECRET';
  name: string;
  namespace: string;
  hash: string;
  containerRefs: string[];
  observedAt: number;
}

/** Reloader's type word for a kind. */
export function typeWord(kind: ResourceKind): 'CONFIGMAP' | 'SECRET' {
  return kind === 'ConfigMap' ? 'CONFIGMAP' : 'SECRET';
}

/** Parse the `last-reloaded-from` annotation; undefined when absent or not ours. */
export function parseLastReloaded(annotations: StringMap | undefined, key: string): LastReloadedFrom | undefined {
  const v = annotations?.[key];
  if (!v) return undefined;
  try {
    const o = JSON.parse(v) as Partial<LastReloadedFrom>;
    if ((o.type === 'CONFIGMAP' || o.type === 'SECRET') && typeof o.name === 'string' && typeof o.hash === 'string') {
      return { type: o.type, name: o.name, namespace: o.namespace ?? '', hash: o.hash, containerRefs: o.containerRefs ?? [], observedAt: o.observedAt ?? 0 };
    }
  } catch {
    // a hand-written or foreign value: treat as carrying nothing
  }
  return undefined;
}

/** Changes to one pod template: env vars to set, env vars to remove, annotations. */
export interface TemplateChange {
  set: Stamp[];
  remove: { container: string; envName: string }[];
  annotations?: StringMap;
}

/**
 * The pod-template part of a strategic merge patch for `change`; `spec` is
 * the template's spec (container names come from it).
 */
export function templatePatch(spec: PodSpec | undefined, change: TemplateChange): PodTemplateSpec & Record<string, unknown> {
  const byContainer = new Map<string, { name: string; value?: string; $patch?: 'delete' }[]>();
  const containers = spec?.containers ?? [];
  for (const s of change.set) {
    const name = containers[s.container]?.name;
    if (!name) continue;
    const list = byContainer.get(name) ?? [];
    list.push({ name: s.envName, value: s.hash });
    byContainer.set(name, list);
  }
  for (const r of change.remove) {
    const list = byContainer.get(r.container) ?? [];
    list.push({ name: r.envName, $patch: 'delete' });
    byContainer.set(r.container, list);
  }
  const out: Record<string, unknown> = {};
  if (byContainer.size > 0) out.spec = { containers: [...byContainer].map(([name, env]) => ({ name, env })) };
  if (change.annotations) out.metadata = { annotations: change.annotations };
  return out;
}
