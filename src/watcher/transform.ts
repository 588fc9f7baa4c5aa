/**
 * Reduce raw API objects to what the caches keep. A ConfigMap or Secret
 * becomes identity + reloader annotations + hash, never its data (Reloader
 * keeps whole objects: ~560 MB at 9k objects). A workload keeps only the
 * parts of its pod template that reference configuration. Every entry is
 * kept for as long as its object exists, so nothing empty is allocated per
 * object: no annotations share one frozen empty object, and a trimmed
 * template has no empty lists or metadata.
 */
import type { AnnotationNames } from '../core/annotations.ts';
import { hashConfigMap, hashSecret } from '../core/hash.ts';
import type { Container, PodSpec, PodTemplateSpec, ResourceEntry, ResourceKind, StringMap, Volume, WorkloadEntry, WorkloadKind } from '../core/types.ts';
import { STAMP_PREFIX } from './template.ts';

type Raw = Record<string, unknown>;
interface RawMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: StringMap;
  annotations?: StringMap;
}

/** The one empty annotations object of entries that keep none (frozen: entries are never written). */
export const NO_ANNOTATIONS: StringMap = Object.freeze({}) as StringMap;

/** Only the annotations whose keys are among the configured reloader names (NO_ANNOTATIONS when none). */
export function keepAnnotations(a: StringMap | undefined, names: ReadonlySet<string>): StringMap {
  let out: StringMap | undefined;
  if (a) for (const k of Object.keys(a)) if (names.has(k)) (out ??= {})[k] = a[k]!;
  return out ?? NO_ANNOTATIONS;
}

/**
 * A cached ConfigMap or Secret. `firstSeen` belongs to the controller: the
 * hash when this process first saw the resource in scope; a reflector
 * replacing the entry hands it on (Controller.resourceChanged).
 */
export interface CachedResource extends ResourceEntry {
  firstSeen: string | undefined;
}

/** The set of annotation keys worth keeping. */
export function annotationKeySet(a: AnnotationNames): Set<string> {
  return new Set(Object.values(a));
}

/** Helm release Secrets: large, many, never mounted by workloads. */
export const HELM_SECRET_TYPE = 'helm.sh/release.v1';

/** ConfigMap or Secret → its cache entry (hash only, no data, no labels: nothing reads them). */
export function toResource(kind: ResourceKind, raw: Raw, keys: ReadonlySet<string>, includeHelm: boolean): CachedResource | undefined {
  const m = (raw.metadata ?? {}) as RawMeta;
  if (!m.name || !m.namespace) return undefined;
  if (kind === 'Secret' && !includeHelm && raw.type === HELM_SECRET_TYPE) return undefined;
  const hash =
    kind === 'ConfigMap'
      ? hashConfigMap(raw.data as StringMap | undefined, raw.binaryData as StringMap | undefined)
      : hashSecret(raw.data as StringMap | undefined);
  // firstSeen in the literal: a field added later would cost each entry a property array
  return { kind, namespace: m.namespace, name: m.name, annotations: keepAnnotations(m.annotations, keys), hash, firstSeen: undefined };
}

function trimContainer(c: Container, kept: ReadonlySet<string>): Container {
  const env = (c.env ?? []).filter((e) => e.name.startsWith(STAMP_PREFIX) || e.valueFrom?.configMapKeyRef || e.valueFrom?.secretKeyRef);
  const envFrom = (c.envFrom ?? []).filter((e) => e.configMapRef || e.secretRef);
  // Only mounts of kept volumes: reference discovery matches mounts against them alone.
  const mounts = (c.volumeMounts ?? []).filter((v) => kept.has(v.name));
  // One literal: fields added one by one would cost each container a property array.
  // (`map` makes exact-size arrays; `filter` results have room to grow.)
  return {
    name: c.name,
    env: env.length
      ? env.map((e) =>
          e.valueFrom
            ? { name: e.name, valueFrom: { ...(e.valueFrom.configMapKeyRef ? { configMapKeyRef: { name: e.valueFrom.configMapKeyRef.name } } : {}), ...(e.valueFrom.secretKeyRef ? { secretKeyRef: { name: e.valueFrom.secretKeyRef.name } } : {}) } }
            : { name: e.name, ...(e.value !== undefined ? { value: e.value } : {}) },
        )
      : undefined,
    envFrom: envFrom.length ? envFrom.map((e) => (e.configMapRef ? { configMapRef: { name: e.configMapRef.name } } : { secretRef: { name: e.secretRef?.name } })) : undefined,
    volumeMounts: mounts.length ? mounts.map((v) => ({ name: v.name })) : undefined,
  };
}

function trimVolume(v: Volume): Volume | undefined {
  if (v.configMap) return { name: v.name, configMap: { name: v.configMap.name } };
  if (v.secret) return { name: v.name, secret: { secretName: v.secret.secretName } };
  const sources = (v.projected?.sources ?? []).filter((s) => s.configMap || s.secret);
  if (sources.length) {
    return { name: v.name, projected: { sources: sources.map((s) => (s.configMap ? { configMap: { name: s.configMap.name } } : { secret: { name: s.secret?.name } })) } };
  }
  return undefined;
}

/** Keep of a pod template only what reference discovery and stamps need. */
export function trimTemplate(t: PodTemplateSpec | undefined, keys: ReadonlySet<string>): PodTemplateSpec {
  const s = t?.spec;
  const vols = (s?.volumes ?? []).map(trimVolume).filter((v): v is Volume => v !== undefined);
  const kept = new Set(vols.map((v) => v.name));
  const spec: PodSpec = {
    containers: s?.containers?.length ? s.containers.map((c) => trimContainer(c, kept)) : undefined,
    initContainers: s?.initContainers?.length ? s.initContainers.map((c) => trimContainer(c, kept)) : undefined,
    volumes: vols.length ? vols.slice() : undefined, // slice: exact size
  };
  const annotations = keepAnnotations(t?.metadata?.annotations, keys);
  // No metadata when no annotation is kept: readers take `metadata?.annotations`.
  return annotations === NO_ANNOTATIONS ? { spec } : { metadata: { annotations }, spec };
}

interface LabelSelector {
  matchLabels?: StringMap;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A LabelSelector object as the string form the API takes. */
export function selectorString(sel: LabelSelector | undefined): string | undefined {
  if (!sel) return undefined;
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.length ? parts.join(',') : undefined;
}

/** Path from a workload object to its pod template. */
function templateOf(kind: WorkloadKind, raw: Raw): PodTemplateSpec | undefined {
  const spec = (raw.spec ?? {}) as { template?: PodTemplateSpec; jobTemplate?: { spec?: { template?: PodTemplateSpec } } };
  return kind === 'CronJob' ? spec.jobTemplate?.spec?.template : spec.template;
}

/** Workload → WorkloadEntry. */
export function toWorkload(kind: WorkloadKind, raw: Raw, keys: ReadonlySet<string>): WorkloadEntry | undefined {
  const m = (raw.metadata ?? {}) as RawMeta;
  if (!m.name || !m.namespace) return undefined;
  const sel = selectorString(((raw.spec ?? {}) as { selector?: LabelSelector }).selector);
  // One shape for every entry (absent fields undefined, which JSON leaves out).
  return {
    kind,
    namespace: m.namespace,
    name: m.name,
    uid: m.uid || undefined,
    annotations: keepAnnotations(m.annotations, keys),
    template: trimTemplate(templateOf(kind, raw), keys),
    selector: sel,
  };
}
