import t from 'tap';
import type { Stamp } from '../../src/core/plan.ts';
import { compareTemplate, newestStamps, resolveUnknown } from '../../src/watcher/decide.ts';

const stamp = (name: string, hash: string, kind: 'ConfigMap' | 'Secret' = 'ConfigMap'): Stamp => ({
  kind,
  namespace: 'ns',
  name,
  hash,
  envName: `STAKATER_${name.toUpperCase()}_${kind === 'ConfigMap' ? 'CONFIGMAP' : 'SECRET'}`,
  container: 0,
});

t.test('env-vars strategy: the template decides when it carries a value', async (t) => {
  const a = stamp('a', 'h2');
  const b = stamp('b', 'x');
  const c = stamp('c', 'y');
  const v = compareTemplate([a, b, c], 'env-vars', new Map([['STAKATER_A_CONFIGMAP', 'h1'], ['STAKATER_B_CONFIGMAP', 'x']]), undefined);
  t.same(v.differs, [a], 'a differs');
  t.same(v.unknown, [c], 'c carries nothing; b is up to date');
});

t.test('annotations strategy: only the resource the annotation names is known', async (t) => {
  const a = stamp('a', 'h2');
  const s = stamp('a', 'h2', 'Secret');
  const last = { type: 'CONFIGMAP' as const, name: 'a', namespace: 'ns', hash: 'h1', containerRefs: [], observedAt: 0 };
  const v = compareTemplate([a, s], 'annotations', new Map([['STAKATER_A_CONFIGMAP', 'h2']]), last);
  t.same(v.differs, [a], 'the annotation says h1; env vars are ignored in this strategy');
  t.same(v.unknown, [s], 'same name, other kind: unknown');
  t.same(compareTemplate([a], 'annotations', new Map(), { ...last, hash: 'h2' }), { differs: [], unknown: [] });
  t.same(compareTemplate([a], 'annotations', new Map(), undefined).unknown, [a]);
});

t.test('unknown stamps: pods first, then this process memory', async (t) => {
  const a = stamp('a', 'new');
  const b = stamp('b', 'same');
  const c = stamp('c', 'changed');
  const d = stamp('d', 'first');
  const e = stamp('e', 'unseen');
  const pods = new Map([['STAKATER_A_CONFIGMAP', 'old'], ['STAKATER_B_CONFIGMAP', 'same']]);
  const baseline = new Map([['c', 'before'], ['d', 'first']]);
  const out = resolveUnknown([a, b, c, d, e], pods, (s) => baseline.get(s.name));
  t.same(out, [
    { stamp: a, reason: 'pod-stamp-differs' },
    { stamp: c, reason: 'changed-while-running' },
  ]);
});

t.test('newestStamps: the newest live pod that carries each name', async (t) => {
  const pod = (created: string, env: Record<string, string>, deleting = false) => ({
    metadata: { creationTimestamp: created, ...(deleting ? { deletionTimestamp: created } : {}) },
    spec: { containers: [{ env: Object.entries(env).map(([name, value]) => ({ name, value })) }, { env: [{ name: 'X_OTHER', value: '1' }] }] },
  });
  const m = newestStamps(
    [
      pod('2026-01-01T00:00:00Z', { A: 'old', B: 'b1' }),
      pod('2026-01-02T00:00:00Z', { A: 'new' }),
      pod('2026-01-03T00:00:00Z', { A: 'terminating' }, true),
      { metadata: {}, spec: {} },
    ],
    new Set(['A', 'B', 'C']),
  );
  t.same(Object.fromEntries(m), { A: 'new', B: 'b1' });
});
