/**
 * Reduce raw API objects to what the caches keep. A ConfigMap or Secret
 * becomes identity + labels + reloader annotations + hash, never its data
 * (Reloader keeps whole objects: ~560 MB at 9k objects). A workload keeps
 * only the parts of its pod template that reference configuration.
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

/** Only the annotations whose keys are among the configured reloader names. */
export function keepAnnotations(a: StringMap | undefined, names: ReadonlySet<string>): StringMap {
  const out: StringMap = {};
  if (!a) return out;
  for (const k of Object.keys(a)) if (names.has(k)) out[k] = a[k]!;
  return out;
}

/** The set of annotation keys worth keeping. */
export function annotationKeySet(a: AnnotationNames): Set<string> {
  return new Set(Object.values(a));
}

/** Helm release Secrets: large, many, never mounted by workloads. */
export const HELM_SECRET_TYPE = 'helm.sh/release.v1';

/** ConfigMap or Secret → ResourceEntry (hash only, no data). */
export function toResource(kind: ResourceKind, raw: Raw, keys: ReadonlySet<string>, includeHelm: boolean): ResourceEntry | undefined {
  const m = (raw.metadata ?? {}) as RawMeta;
  if (!m.name || !m.namespace) return undefined;
  if (kind === 'Secret' && !includeHelm && raw.type === HELM_SECRET_TYPE) return undefined;
  const hash =
    kind === 'ConfigMap'
      ? hashConfigMap(raw.data as StringMap | undefined, raw.binaryData as StringMap | undefined)
      : hashSecret(raw.data as StringMap | undefined);
  return { kind, namespace: m.namespace, name: m.name, labels: m.labels ?? {}, annotations: keepAnnotations(m.annotations, keys), hash };
}

function trimContainer(c: Container): Container {
  const out: Container = { name: c.name };
  const env = (c.env ?? []).filter((e) => e.name.startsWith(STAMP_PREFIX) || e.valueFrom?.configMapKeyRef || e.valueFrom?.secretKeyRef);
  if (env.length) {
    out.env = env.map((e) =>
      e.valueFrom
        ? { name: e.name, valueFrom: { ...(e.valueFrom.configMapKeyRef ? { configMapKeyRef: { name: e.valueFrom.configMapKeyRef.name } } : {}), ...(e.valueFrom.secretKeyRef ? { secretKeyRef: { name: e.valueFrom.secretKeyRef.name } } : {}) } }
        : { name: e.name, ...(e.value !== undefined ? { value: e.value } : {}) },
    );
  }
  const envFrom = (c.envFrom ?? []).filter((e) => e.configMapRef || e.secretRef);
  if (envFrom.length) out.envFrom = envFrom.map((e) => (e.configMapRef ? { configMapRef: { name: e.configMapRef.name } } : { secretRef: { name: e.secretRef?.name } }));
  if (c.volumeMounts?.length) out.volumeMounts = c.volumeMounts.map((v) => ({ name: v.name }));
  return out;
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
  const spec: PodSpec = {};
  const s = t?.spec;
  if (s?.containers) spec.containers = s.containers.map(trimContainer);
  if (s?.initContainers?.length) spec.initContainers = s.initContainers.map(trimContainer);
  const vols = (s?.volumes ?? []).map(trimVolume).filter((v): v is Volume => v !== undefined);
  if (vols.length) spec.volumes = vols;
  return { metadata: { annotations: keepAnnotations(t?.metadata?.annotations, keys) }, spec };
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
  return {
    kind,
    namespace: m.namespace,
    name: m.name,
    ...(m.uid ? { uid: m.uid } : {}),
    annotations: keepAnnotations(m.annotations, keys),
    template: trimTemplate(templateOf(kind, raw), keys),
    ...(sel ? { selector: sel } : {}),
  };
}
