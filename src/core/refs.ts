/**
 * Reference discovery in a pod spec (DESIGN.md §2) and the choice of the one
 * container that carries the env var (DESIGN.md §4), mirroring Reloader.
 */
import type { Container, PodSpec, ResourceKind } from './types.ts';

/** Names of the ConfigMaps and Secrets a pod spec references. */
export interface References {
  ConfigMap: Set<string>;
  Secret: Set<string>;
}

function volumeNames(spec: PodSpec, kind: ResourceKind, name: string): Set<string> {
  const out = new Set<string>();
  for (const v of spec.volumes ?? []) {
    if (kind === 'ConfigMap' ? v.configMap?.name === name : v.secret?.secretName === name) out.add(v.name);
    for (const s of v.projected?.sources ?? []) {
      if ((kind === 'ConfigMap' ? s.configMap?.name : s.secret?.name) === name) out.add(v.name);
    }
  }
  return out;
}

function mountsAny(c: Container, vols: Set<string>): boolean {
  return (c.volumeMounts ?? []).some((m) => vols.has(m.name));
}

function envReferences(c: Container, kind: ResourceKind, name: string): boolean {
  for (const e of c.env ?? []) {
    const ref = kind === 'ConfigMap' ? e.valueFrom?.configMapKeyRef : e.valueFrom?.secretKeyRef;
    if (ref?.name === name) return true;
  }
  for (const e of c.envFrom ?? []) {
    if ((kind === 'ConfigMap' ? e.configMapRef?.name : e.secretRef?.name) === name) return true;
  }
  return false;
}

/**
 * Every ConfigMap and Secret referenced by volumes (including projected
 * sources), env valueFrom and envFrom, in containers and init containers.
 */
export function findReferences(spec: PodSpec | undefined): References {
  const refs: References = { ConfigMap: new Set(), Secret: new Set() };
  if (!spec) return refs;
  const add = (kind: ResourceKind, n: string | undefined) => {
    if (n) refs[kind].add(n);
  };
  for (const v of spec.volumes ?? []) {
    add('ConfigMap', v.configMap?.name);
    add('Secret', v.secret?.secretName);
    for (const s of v.projected?.sources ?? []) {
      add('ConfigMap', s.configMap?.name);
      add('Secret', s.secret?.name);
    }
  }
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      add('ConfigMap', e.valueFrom?.configMapKeyRef?.name);
      add('Secret', e.valueFrom?.secretKeyRef?.name);
    }
    for (const e of c.envFrom ?? []) {
      add('ConfigMap', e.configMapRef?.name);
      add('Secret', e.secretRef?.name);
    }
  }
  return refs;
}

/**
 * Index in `spec.containers` of the container that gets the env var for a
 * resource, or undefined when none qualifies. Order (Reloader's):
 * 1. the first container that mounts a volume of the resource;
 * 2. else the first container referencing it through env/envFrom;
 * 3. a reference found only in an init container → containers[0];
 * 4. no reference at all: containers[0] for a named (non-auto) match,
 *    undefined for auto (auto only reloads what the spec references).
 */
export function chooseContainer(spec: PodSpec | undefined, kind: ResourceKind, name: string, auto: boolean): number | undefined {
  const containers = spec?.containers ?? [];
  if (containers.length === 0) return undefined;
  const inits = spec?.initContainers ?? [];
  const vols = volumeNames(spec ?? {}, kind, name);
  if (vols.size > 0) {
    const i = containers.findIndex((c) => mountsAny(c, vols));
    if (i >= 0) return i;
    if (inits.some((c) => mountsAny(c, vols))) return 0;
  }
  const j = containers.findIndex((c) => envReferences(c, kind, name));
  if (j >= 0) return j;
  if (inits.some((c) => envReferences(c, kind, name))) return 0;
  return auto ? undefined : 0;
}

/** Suffix of the env var per kind, as Reloader names it. */
const SUFFIX: Record<ResourceKind, string> = { ConfigMap: 'CONFIGMAP', Secret: 'SECRET' };

/**
 * Reloader's env var name: `STAKATER_<NAME>_CONFIGMAP|_SECRET`. NAME is the
 * resource name uppercased keeping [A-Z0-9]; each run of other characters
 * becomes one "_", written only after a kept character
 * (`www.stakater.com` → `WWW_STAKATER_COM`, `-a--b-` → `A_B_`).
 */
export function envVarName(kind: ResourceKind, name: string): string {
  let out = '';
  let lastKept = false;
  // Go upper-cases the whole string then walks its bytes; non-ASCII bytes are
  // never kept, so walking UTF-16 code units gives the same result.
  for (const ch of name.toUpperCase()) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
      out += ch;
      lastKept = true;
    } else {
      if (lastKept) out += '_';
      lastKept = false;
    }
  }
  return `STAKATER_${out}_${SUFFIX[kind]}`;
}
