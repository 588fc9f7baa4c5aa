import t from 'tap';
import { chooseContainer, envVarName, findReferences } from '../../src/core/refs.ts';
import type { PodSpec } from '../../src/core/types.ts';

t.test('env var naming', async (t) => {
  t.equal(envVarName('ConfigMap', 'www.stakater.com'), 'STAKATER_WWW_STAKATER_COM_CONFIGMAP');
  t.equal(envVarName('Secret', 'db-credentials'), 'STAKATER_DB_CREDENTIALS_SECRET');
  t.equal(envVarName('ConfigMap', 'app-config-v2'), 'STAKATER_APP_CONFIG_V2_CONFIGMAP');
  t.equal(envVarName('ConfigMap', 'a--b..c'), 'STAKATER_A_B_C_CONFIGMAP', 'a run of separators is one _');
  t.equal(envVarName('ConfigMap', '-lead'), 'STAKATER_LEAD_CONFIGMAP', 'no _ before the first kept char');
  t.equal(envVarName('Secret', 'trail-'), 'STAKATER_TRAIL__SECRET', 'trailing run still writes one _ (as Go does)');
  t.equal(envVarName('ConfigMap', 'MiXeD'), 'STAKATER_MIXED_CONFIGMAP');
});

const spec: PodSpec = {
  initContainers: [
    { name: 'init', envFrom: [{ configMapRef: { name: 'init-only' } }], volumeMounts: [{ name: 'initvol', mountPath: '/i' }] },
  ],
  containers: [
    { name: 'sidecar', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } }] },
    {
      name: 'app',
      envFrom: [{ configMapRef: { name: 'mounted' } }, { secretRef: { name: 'from-secret' } }],
      env: [{ name: 'Y', valueFrom: { configMapKeyRef: { name: 'key-cm', key: 'k' } } }, { name: 'Z', value: 'plain' }],
      volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }, { name: 'proj', mountPath: '/p' }],
    },
    { name: 'other', volumeMounts: [{ name: 'cfg', mountPath: '/cfg2' }] },
  ],
  volumes: [
    { name: 'cfg', configMap: { name: 'mounted' } },
    { name: 'sec', secret: { secretName: 'vol-secret' } },
    {
      name: 'proj',
      projected: { sources: [{ configMap: { name: 'proj-cm' } }, { secret: { name: 'proj-secret' } }, { serviceAccountToken: { path: 't' } }] },
    },
    { name: 'initvol', configMap: { name: 'init-vol-cm' } },
    { name: 'empty', emptyDir: {} },
  ],
};

t.test('findReferences covers every reference form', async (t) => {
  const r = findReferences(spec);
  t.same([...r.ConfigMap].sort(), ['init-only', 'init-vol-cm', 'key-cm', 'mounted', 'proj-cm']);
  t.same([...r.Secret].sort(), ['env-secret', 'from-secret', 'proj-secret', 'vol-secret']);
  const none = findReferences(undefined);
  t.equal(none.ConfigMap.size + none.Secret.size, 0);
  t.equal(findReferences({}).ConfigMap.size, 0);
});

t.test('chooseContainer', async (t) => {
  t.equal(chooseContainer(spec, 'ConfigMap', 'mounted', true), 1, 'first container mounting the volume wins over envFrom order');
  t.equal(chooseContainer(spec, 'ConfigMap', 'proj-cm', true), 1, 'projected source mount');
  t.equal(chooseContainer(spec, 'Secret', 'proj-secret', true), 1);
  t.equal(chooseContainer(spec, 'Secret', 'env-secret', true), 0, 'env valueFrom');
  t.equal(chooseContainer(spec, 'Secret', 'from-secret', true), 1, 'envFrom');
  t.equal(chooseContainer(spec, 'ConfigMap', 'key-cm', true), 1, 'configMapKeyRef');
  t.equal(chooseContainer(spec, 'ConfigMap', 'init-only', true), 0, 'init container env reference → containers[0]');
  t.equal(chooseContainer(spec, 'ConfigMap', 'init-vol-cm', true), 0, 'init container mount → containers[0]');
  t.equal(chooseContainer(spec, 'Secret', 'vol-secret', true), undefined, 'volume declared but mounted nowhere, auto → none');
  t.equal(chooseContainer(spec, 'Secret', 'vol-secret', false), 0, 'named match without reference → containers[0]');
  t.equal(chooseContainer(spec, 'ConfigMap', 'unrelated', true), undefined);
  t.equal(chooseContainer(spec, 'ConfigMap', 'unrelated', false), 0);
  t.equal(chooseContainer({ containers: [] }, 'ConfigMap', 'x', false), undefined, 'no containers');
  t.equal(chooseContainer(undefined, 'ConfigMap', 'x', false), undefined);
  t.equal(chooseContainer({ containers: [{ name: 'a' }] }, 'ConfigMap', 'x', false), 0, 'spec without volumes');
  // a volume mounted only by a container later in the list than an env reference
  const s2: PodSpec = {
    containers: [
      { name: 'env', envFrom: [{ configMapRef: { name: 'c' } }] },
      { name: 'mount', volumeMounts: [{ name: 'v' }] },
    ],
    volumes: [{ name: 'v', configMap: { name: 'c' } }],
  };
  t.equal(chooseContainer(s2, 'ConfigMap', 'c', true), 1, 'a mount beats an earlier env reference');
});
