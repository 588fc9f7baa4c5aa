/**
 * Reloader's annotation names (DESIGN.md §2). Each can be overridden by the
 * flag of the same role (`--auto-annotation`, …), so code reads them from an
 * `AnnotationNames` object, never from these constants directly.
 */
export interface AnnotationNames {
  /** `reloader.stakater.com/auto` */
  auto: string;
  /** `configmap.reloader.stakater.com/auto` */
  configmapAuto: string;
  /** `secret.reloader.stakater.com/auto` */
  secretAuto: string;
  /** `configmap.reloader.stakater.com/reload` */
  configmapReload: string;
  /** `secret.reloader.stakater.com/reload` */
  secretReload: string;
  /** `configmaps.exclude.reloader.stakater.com/reload` */
  configmapExclude: string;
  /** `secrets.exclude.reloader.stakater.com/reload` */
  secretExclude: string;
  /** `reloader.stakater.com/ignore` (on the ConfigMap/Secret) */
  ignore: string;
  /** `reloader.stakater.com/search` */
  search: string;
  /** `reloader.stakater.com/match` (on the ConfigMap/Secret) */
  match: string;
  /** `deployment.reloader.stakater.com/pause-period` */
  pausePeriod: string;
  /** `deployment.reloader.stakater.com/paused-at` */
  pausedAt: string;
  /** `reloader.stakater.com/last-reloaded-from` (annotations strategy) */
  lastReloadedFrom: string;
  /** `reloader.stakater.com/rollout-strategy: restart|rollout` (Argo Rollouts reload method) */
  rolloutStrategy: string;
}

export const DEFAULT_ANNOTATIONS: Readonly<AnnotationNames> = Object.freeze({
  auto: 'reloader.stakater.com/auto',
  configmapAuto: 'configmap.reloader.stakater.com/auto',
  secretAuto: 'secret.reloader.stakater.com/auto',
  configmapReload: 'configmap.reloader.stakater.com/reload',
  secretReload: 'secret.reloader.stakater.com/reload',
  configmapExclude: 'configmaps.exclude.reloader.stakater.com/reload',
  secretExclude: 'secrets.exclude.reloader.stakater.com/reload',
  ignore: 'reloader.stakater.com/ignore',
  search: 'reloader.stakater.com/search',
  match: 'reloader.stakater.com/match',
  pausePeriod: 'deployment.reloader.stakater.com/pause-period',
  pausedAt: 'deployment.reloader.stakater.com/paused-at',
  lastReloadedFrom: 'reloader.stakater.com/last-reloaded-from',
  rolloutStrategy: 'reloader.stakater.com/rollout-strategy',
});
