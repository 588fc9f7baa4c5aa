/**
 * Minimal structural shapes of the Kubernetes objects the pure core reads.
 * Only the fields we use are declared; everything is optional because input
 * comes from the wire (AdmissionReview JSON, watch events) and is untrusted.
 */

export type StringMap = Record<string, string>;

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  labels?: StringMap;
  annotations?: StringMap;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}

export interface KeyRef {
  name?: string;
  key?: string;
  optional?: boolean;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: KeyRef;
    secretKeyRef?: KeyRef;
    [k: string]: unknown;
  };
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name?: string; optional?: boolean };
  secretRef?: { name?: string; optional?: boolean };
}

export interface VolumeMount {
  name: string;
  mountPath?: string;
  [k: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: VolumeMount[];
  [k: string]: unknown;
}

export interface ProjectionSource {
  configMap?: { name?: string; [k: string]: unknown };
  secret?: { name?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface Volume {
  name: string;
  configMap?: { name?: string; [k: string]: unknown };
  secret?: { secretName?: string; [k: string]: unknown };
  projected?: { sources?: ProjectionSource[]; [k: string]: unknown };
  [k: string]: unknown;
}

export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  [k: string]: unknown;
}

export interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: PodSpec;
  [k: string]: unknown;
}

/** The two kinds of configuration resource we follow. */
export type ResourceKind = 'ConfigMap' | 'Secret';

/** Workload kinds whose pod template we can patch. */
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Rollout' | 'CronJob' | 'Job';

/**
 * What the caches keep for a ConfigMap or Secret: identity, the annotations
 * (only the reloader ones are needed) and the hash — never data, nor labels
 * (nothing decides on them).
 */
export interface ResourceEntry {
  kind: ResourceKind;
  namespace: string;
  name: string;
  annotations: StringMap;
  /** Reloader-compatible SHA1 (lowercase hex) of the data. */
  hash: string;
}

/**
 * What the caches keep for a workload to decide about it: identity, the
 * workload's own annotations, and its pod template (needed for reference
 * discovery and to see what the template already carries).
 */
export interface WorkloadEntry {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  uid?: string;
  annotations: StringMap;
  template: PodTemplateSpec;
  /** Label selector of its pods (`a=b,c=d`), to read their stamps. */
  selector?: string;
}

/**
 * Read-only view of the caches, the only thing the webhook reads. The watcher
 * fills it; tests use a map-backed implementation.
 */
export interface CacheView {
  /** True once every informer has synced once. */
  ready(): boolean;
  /**
   * True when the caches watch this kind in this namespace, so that an
   * object missing from them is worth waiting for (watch lag) rather than
   * known to be outside our scope (kind not enabled, namespace not watched).
   */
  covers(kind: ResourceKind | WorkloadKind, namespace: string): boolean;
  getResource(kind: ResourceKind, namespace: string, name: string): ResourceEntry | undefined;
  /** All resources of a kind in a namespace (named regex lists and search/match need them). */
  listResources(kind: ResourceKind, namespace: string): Iterable<ResourceEntry>;
  getWorkload(kind: WorkloadKind, namespace: string, name: string): WorkloadEntry | undefined;
  /**
   * Resolve when every key is present or `timeoutMs` has passed, whichever
   * comes first. Keys are `Kind/namespace/name`. Never rejects.
   */
  waitFor(keys: readonly string[], timeoutMs: number): Promise<void>;
}

/** Cache key of an object: `Kind/namespace/name`. */
export function cacheKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
