/**
 * The annotation policy (DESIGN.md §2): does a change of this ConfigMap or
 * Secret reload this workload? Reloader's rules, evaluated in its order:
 * workload kind ignored → resource `ignore` → exclude list → named regex →
 * search + match → auto / typed auto / --auto-reload-all.
 */
import type { AnnotationNames } from './annotations.ts';
import type { ResourceKind, StringMap, WorkloadKind } from './types.ts';

/** Options of the policy, taken from the parsed configuration. */
export interface PolicyOptions {
  annotations: AnnotationNames;
  /** `--auto-reload-all`: auto for every workload that does not say `auto: "false"`. */
  autoReloadAll: boolean;
  /** `--ignored-workload-types`. */
  ignoredWorkloadTypes: ReadonlySet<WorkloadKind>;
  /** `--resources-to-ignore`. */
  ignoredResourceKinds: ReadonlySet<ResourceKind>;
  /** Called once per invalid pattern seen in a named list (it is then skipped). */
  onInvalidRegex?: (pattern: string, message: string) => void;
}

/** What one workload asks for, for one resource kind. */
export interface KindPolicy {
  /** Reload on any referenced resource of this kind. */
  auto: boolean;
  /** Named list (`…/reload`), each item compiled as `^item$`. */
  named: RegExp[];
  /** Exact names never to reload for. */
  exclude: ReadonlySet<string>;
  /** `reloader.stakater.com/search: "true"`. */
  search: boolean;
}

/** The resolved policy of a workload: one KindPolicy per resource kind, or ignored. */
export interface WorkloadPolicy {
  ignored: boolean;
  ConfigMap: KindPolicy;
  Secret: KindPolicy;
}

/** Why a resource does not reload a workload (a metric label). */
export type SkipReason =
  | 'workload-type-ignored'
  | 'resource-kind-ignored'
  | 'resource-ignored'
  | 'excluded'
  | 'not-referenced'
  | 'not-annotated';

/** Outcome of the policy for one (workload, resource) pair. */
export type Decision =
  | { reload: true; via: 'named' | 'search' | 'auto'; /** auto-style: needs a reference to pick a container */ auto: boolean }
  | { reload: false; reason: SkipReason };

/** Go's strconv.ParseBool, true side: anything else (or an error) is false. */
export function goBool(v: string | undefined): boolean {
  return v === '1' || v === 't' || v === 'T' || v === 'TRUE' || v === 'true' || v === 'True';
}

function commaList(v: string | undefined): string[] {
  if (!v) return [];
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

// Compiled patterns by source: every admission and reconcile would otherwise
// recompile the same few patterns. Bounded: cleared past 4096 entries.
const regexCache = new Map<string, RegExp | null>();

function compile(item: string, onInvalid?: (p: string, m: string) => void): RegExp | null {
  let re = regexCache.get(item);
  if (re !== undefined) return re;
  try {
    re = new RegExp(`^${item}$`);
  } catch (e) {
    re = null;
    onInvalid?.(item, (e as Error).message);
  }
  if (regexCache.size >= 4096) regexCache.clear();
  regexCache.set(item, re);
  return re;
}

// Shared by the policies without a named list / exclusions (most of them):
// the watcher keeps a policy per cached workload, and an empty Set costs ~80 B.
const NO_PATTERNS: RegExp[] = Object.freeze([]) as unknown as RegExp[];
const NO_NAMES: ReadonlySet<string> = new Set();

function kindPolicy(kind: ResourceKind, meta: StringMap, template: StringMap, opts: PolicyOptions): KindPolicy {
  const a = opts.annotations;
  const typedAuto = kind === 'ConfigMap' ? a.configmapAuto : a.secretAuto;
  const reload = kind === 'ConfigMap' ? a.configmapReload : a.secretReload;
  const excludeKey = kind === 'ConfigMap' ? a.configmapExclude : a.secretExclude;
  // Reloader's rule: read from the workload's own annotations; only if none
  // of these keys is there, from the pod template's.
  const src = [reload, a.auto, typedAuto, a.search].some((k) => k in meta) ? meta : template;
  const autoValue = src[a.auto];
  const typedValue = src[typedAuto];
  const auto =
    goBool(autoValue) || goBool(typedValue) || (!autoValue && !typedValue && opts.autoReloadAll);
  const named: RegExp[] = [];
  for (const item of commaList(src[reload])) {
    const re = compile(item, opts.onInvalidRegex);
    if (re) named.push(re);
  }
  const exclude = commaList(meta[excludeKey] ?? template[excludeKey]);
  return {
    auto,
    named: named.length > 0 ? named : NO_PATTERNS,
    exclude: exclude.length > 0 ? new Set(exclude) : NO_NAMES,
    search: src[a.search] === 'true',
  };
}

/**
 * Resolve a workload's policy from its own and its pod template's
 * annotations. Cheap enough per admission; patterns are cached.
 */
export function workloadPolicy(
  kind: WorkloadKind,
  annotations: StringMap | undefined,
  templateAnnotations: StringMap | undefined,
  opts: PolicyOptions,
): WorkloadPolicy {
  const meta = annotations ?? {};
  const tmpl = templateAnnotations ?? {};
  return {
    ignored: opts.ignoredWorkloadTypes.has(kind),
    ConfigMap: kindPolicy('ConfigMap', meta, tmpl, opts),
    Secret: kindPolicy('Secret', meta, tmpl, opts),
  };
}

/** True when the workload asks for reloads of any kind at all. */
export function isInterested(p: WorkloadPolicy): boolean {
  if (p.ignored) return false;
  return [p.ConfigMap, p.Secret].some((k) => k.auto || k.search || k.named.length > 0);
}

/** Does the workload name this resource in its named list? */
export function matchesNamed(p: WorkloadPolicy, kind: ResourceKind, name: string): boolean {
  return p[kind].named.some((re) => re.test(name));
}

/** A resource as the policy sees it. */
export interface PolicyResource {
  kind: ResourceKind;
  name: string;
  annotations: StringMap;
}

/**
 * Decide whether a change of `resource` reloads the workload. `referenced`
 * says whether the workload's pod spec references it (auto and search only
 * act on referenced resources, as Reloader's auto path finds no container
 * otherwise).
 */
export function decide(p: WorkloadPolicy, resource: PolicyResource, referenced: boolean, opts: PolicyOptions): Decision {
  if (p.ignored) return { reload: false, reason: 'workload-type-ignored' };
  if (opts.ignoredResourceKinds.has(resource.kind)) return { reload: false, reason: 'resource-kind-ignored' };
  if (resource.annotations[opts.annotations.ignore] === 'true') return { reload: false, reason: 'resource-ignored' };
  const k = p[resource.kind];
  if (k.exclude.has(resource.name)) return { reload: false, reason: 'excluded' };
  if (k.named.some((re) => re.test(resource.name))) return { reload: true, via: 'named', auto: false };
  const wants = (k.search && resource.annotations[opts.annotations.match] === 'true') || k.auto;
  if (!wants) return { reload: false, reason: 'not-annotated' };
  if (!referenced) return { reload: false, reason: 'not-referenced' };
  return { reload: true, via: k.search && resource.annotations[opts.annotations.match] === 'true' ? 'search' : 'auto', auto: true };
}
