/**
 * Annotation names as the flags see them: the defaults are the pure core's
 * (src/core/annotations.ts, the one source of these strings); `--*-annotation`
 * flags override them in `config.annotations`.
 */
import { DEFAULT_ANNOTATIONS, type AnnotationNames } from '../core/annotations.ts';

export type { AnnotationNames };

export const AUTO_ANNOTATION = DEFAULT_ANNOTATIONS.auto;
export const CONFIGMAP_AUTO_ANNOTATION = DEFAULT_ANNOTATIONS.configmapAuto;
export const SECRET_AUTO_ANNOTATION = DEFAULT_ANNOTATIONS.secretAuto;
export const CONFIGMAP_RELOAD_ANNOTATION = DEFAULT_ANNOTATIONS.configmapReload;
export const SECRET_RELOAD_ANNOTATION = DEFAULT_ANNOTATIONS.secretReload;
export const CONFIGMAP_EXCLUDE_ANNOTATION = DEFAULT_ANNOTATIONS.configmapExclude;
export const SECRET_EXCLUDE_ANNOTATION = DEFAULT_ANNOTATIONS.secretExclude;
export const IGNORE_ANNOTATION = DEFAULT_ANNOTATIONS.ignore;
export const SEARCH_ANNOTATION = DEFAULT_ANNOTATIONS.search;
export const MATCH_ANNOTATION = DEFAULT_ANNOTATIONS.match;
export const PAUSE_PERIOD_ANNOTATION = DEFAULT_ANNOTATIONS.pausePeriod;
export const PAUSED_AT_ANNOTATION = DEFAULT_ANNOTATIONS.pausedAt;
export const LAST_RELOADED_FROM_ANNOTATION = DEFAULT_ANNOTATIONS.lastReloadedFrom;
export const ROLLOUT_STRATEGY_ANNOTATION = DEFAULT_ANNOTATIONS.rolloutStrategy;

/** A fresh, mutable copy of the default annotation names. */
export function defaultAnnotationNames(): AnnotationNames {
  return { ...DEFAULT_ANNOTATIONS };
}
