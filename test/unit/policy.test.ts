import t from 'tap';
import { DEFAULT_ANNOTATIONS } from '../../src/core/annotations.ts';
import { decide, goBool, isInterested, matchesNamed, workloadPolicy, type PolicyOptions, type PolicyResource } from '../../src/core/policy.ts';
import type { ResourceKind, StringMap, WorkloadKind } from '../../src/core/types.ts';

const invalid: string[] = [];
function opts(over: Partial<PolicyOptions> = {}): PolicyOptions {
  return {
    annotations: DEFAULT_ANNOTATIONS,
    autoReloadAll: false,
    ignoredWorkloadTypes: new Set<WorkloadKind>(),
    ignoredResourceKinds: new Set<ResourceKind>(),
    onInvalidRegex: (p) => invalid.push(p),
    ...over,
  };
}
const cm = (name: string, annotations: StringMap = {}): PolicyResource => ({ kind: 'ConfigMap', name, annotations });
const sec = (name: string, annotations: StringMap = {}): PolicyResource => ({ kind: 'Secret', name, annotations });
function verdict(meta: StringMap, res: PolicyResource, referenced: boolean, o = opts(), tmpl: StringMap = {}, kind: WorkloadKind = 'Deployment') {
  const d = decide(workloadPolicy(kind, meta, tmpl, o), res, referenced, o);
  return d.reload ? d.via : d.reason;
}

t.test('goBool follows strconv.ParseBool', async (t) => {
  for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) t.equal(goBool(v), true, v);
  for (const v of ['0', 'f', 'false', 'yes', 'tRUE', '', undefined]) t.equal(goBool(v), false, String(v));
});

t.test('auto', async (t) => {
  const auto = { 'reloader.stakater.com/auto': 'true' };
  t.equal(verdict(auto, cm('a'), true), 'auto');
  t.equal(verdict(auto, sec('a'), true), 'auto');
  t.equal(verdict(auto, cm('a'), false), 'not-referenced', 'auto only reloads referenced resources');
  t.equal(verdict({ 'reloader.stakater.com/auto': 'false' }, cm('a'), true), 'not-annotated');
  t.equal(verdict({}, cm('a'), true), 'not-annotated');
});

t.test('typed auto is for one kind only', async (t) => {
  const m = { 'configmap.reloader.stakater.com/auto': 'true' };
  t.equal(verdict(m, cm('a'), true), 'auto');
  t.equal(verdict(m, sec('a'), true), 'not-annotated');
  const s = { 'secret.reloader.stakater.com/auto': 'true' };
  t.equal(verdict(s, sec('a'), true), 'auto');
  t.equal(verdict(s, cm('a'), true), 'not-annotated');
});

t.test('--auto-reload-all unless the workload says auto false', async (t) => {
  const o = opts({ autoReloadAll: true });
  t.equal(verdict({}, cm('a'), true, o), 'auto');
  t.equal(verdict({ 'reloader.stakater.com/auto': 'false' }, cm('a'), true, o), 'not-annotated');
  t.equal(verdict({ 'configmap.reloader.stakater.com/auto': 'false' }, cm('a'), true, o), 'not-annotated');
  t.equal(verdict({}, cm('a'), false, o), 'not-referenced');
});

t.test('named regex lists', async (t) => {
  const m = { 'configmap.reloader.stakater.com/reload': ' app-config , feature-.* ,, ' };
  t.equal(verdict(m, cm('app-config'), false), 'named', 'named reloads even when not referenced');
  t.equal(verdict(m, cm('feature-x'), true), 'named');
  t.equal(verdict(m, cm('feature-'), true), 'named');
  t.equal(verdict(m, cm('my-feature-x'), true), 'not-annotated', 'anchored at the start');
  t.equal(verdict(m, cm('app-config-2'), true), 'not-annotated', 'anchored at the end');
  t.equal(verdict(m, sec('app-config'), true), 'not-annotated', 'the configmap list does not name secrets');
  const s = { 'secret.reloader.stakater.com/reload': 'db' };
  t.equal(verdict(s, sec('db'), false), 'named');
  const p = workloadPolicy('Deployment', m, {}, opts());
  t.ok(matchesNamed(p, 'ConfigMap', 'feature-y'));
  t.notOk(matchesNamed(p, 'Secret', 'feature-y'));
});

t.test('an invalid regex is reported and skipped, the rest still work', async (t) => {
  invalid.length = 0;
  const m = { 'configmap.reloader.stakater.com/reload': 'bad(,good' };
  t.equal(verdict(m, cm('good'), false), 'named');
  t.equal(verdict(m, cm('bad('), false), 'not-annotated');
  t.same(invalid, ['bad('], 'reported once (compiled patterns are cached)');
});

t.test('exclude lists win over auto and named', async (t) => {
  const m = {
    'reloader.stakater.com/auto': 'true',
    'configmap.reloader.stakater.com/reload': 'skip-me',
    'configmaps.exclude.reloader.stakater.com/reload': 'skip-me, other',
    'secrets.exclude.reloader.stakater.com/reload': 'db',
  };
  t.equal(verdict(m, cm('skip-me'), true), 'excluded');
  t.equal(verdict(m, cm('other'), true), 'excluded');
  t.equal(verdict(m, cm('kept'), true), 'auto');
  t.equal(verdict(m, sec('db'), true), 'excluded');
  t.equal(verdict(m, sec('skip-me'), true), 'auto', 'exclude lists are per kind');
  t.equal(verdict({ 'reloader.stakater.com/auto': 'true', 'configmaps.exclude.reloader.stakater.com/reload': 'skip-.*' }, cm('skip-me'), true), 'auto', 'exclude names are exact, not regexes');
});

t.test('ignore on the resource wins', async (t) => {
  const m = { 'reloader.stakater.com/auto': 'true', 'configmap.reloader.stakater.com/reload': 'a' };
  t.equal(verdict(m, cm('a', { 'reloader.stakater.com/ignore': 'true' }), true), 'resource-ignored');
  t.equal(verdict(m, cm('a', { 'reloader.stakater.com/ignore': 'false' }), true), 'named');
});

t.test('search + match', async (t) => {
  const m = { 'reloader.stakater.com/search': 'true' };
  const matched = cm('a', { 'reloader.stakater.com/match': 'true' });
  t.equal(verdict(m, matched, true), 'search');
  t.equal(verdict(m, matched, false), 'not-referenced');
  t.equal(verdict(m, cm('a'), true), 'not-annotated', 'search without match on the resource');
  t.equal(verdict({}, matched, true), 'not-annotated', 'match without search on the workload');
  t.equal(verdict({ 'reloader.stakater.com/search': 'True' }, matched, true), 'not-annotated', 'search must be exactly "true"');
});

t.test('ignored workload types and resource kinds', async (t) => {
  const auto = { 'reloader.stakater.com/auto': 'true' };
  const o = opts({ ignoredWorkloadTypes: new Set<WorkloadKind>(['CronJob']), ignoredResourceKinds: new Set<ResourceKind>(['Secret']) });
  t.equal(verdict(auto, cm('a'), true, o, {}, 'CronJob'), 'workload-type-ignored');
  t.equal(verdict(auto, cm('a'), true, o, {}, 'Deployment'), 'auto');
  t.equal(verdict(auto, sec('a'), true, o), 'resource-kind-ignored');
  t.notOk(isInterested(workloadPolicy('CronJob', auto, {}, o)));
});

t.test('fallback to pod template annotations only when the workload has none of the keys', async (t) => {
  const tmpl = { 'reloader.stakater.com/auto': 'true' };
  t.equal(verdict({ unrelated: 'x' }, cm('a'), true, opts(), tmpl), 'auto', 'template annotations used');
  t.equal(verdict({ 'reloader.stakater.com/auto': 'false' }, cm('a'), true, opts(), tmpl), 'not-annotated', 'workload metadata wins');
  t.equal(verdict({ 'configmap.reloader.stakater.com/reload': 'b' }, cm('a'), true, opts(), tmpl), 'not-annotated', 'any key on metadata disables the fallback');
  t.equal(verdict({}, cm('x'), false, opts(), { 'configmap.reloader.stakater.com/reload': 'x' }), 'named');
  t.equal(verdict({}, cm('x'), true, opts(), { 'configmaps.exclude.reloader.stakater.com/reload': 'x', 'reloader.stakater.com/auto': 'true' }), 'excluded');
});

t.test('isInterested', async (t) => {
  const o = opts();
  t.notOk(isInterested(workloadPolicy('Deployment', {}, {}, o)));
  t.ok(isInterested(workloadPolicy('Deployment', { 'reloader.stakater.com/auto': 'true' }, {}, o)));
  t.ok(isInterested(workloadPolicy('Deployment', { 'secret.reloader.stakater.com/reload': 'x' }, {}, o)));
  t.ok(isInterested(workloadPolicy('Deployment', { 'reloader.stakater.com/search': 'true' }, {}, o)));
  t.ok(isInterested(workloadPolicy('StatefulSet', undefined, undefined, opts({ autoReloadAll: true }))));
});

t.test('annotation names can be overridden', async (t) => {
  const o = opts({ annotations: { ...DEFAULT_ANNOTATIONS, auto: 'example.com/auto' } });
  t.equal(verdict({ 'example.com/auto': 'true' }, cm('a'), true, o), 'auto');
  t.equal(verdict({ 'reloader.stakater.com/auto': 'true' }, cm('a'), true, o), 'not-annotated');
});
