import t from 'tap';
import { applyReload } from '../../src/watcher/apply.ts';
import { KubeError, type KubeClient } from '../../src/watcher/kube-client.ts';
import type { WorkloadEntry } from '../../src/core/types.ts';

/**
 * A stand-in for the API server's Job collection (one Job, `migrate`): GET,
 * DELETE, and a POST that answers 409 AlreadyExists `conflicts` times (the
 * old Job still being removed) before it creates.
 */
function jobServer(conflicts: number, failWith = 409) {
  const state: { job: Record<string, any> | undefined; posts: number } = {
    job: {
      metadata: { name: 'migrate', namespace: 'ns', uid: 'old', labels: { app: 'm', 'controller-uid': 'old' }, annotations: { 'reloader.stakater.com/auto': 'true' } },
      spec: {
        selector: { matchLabels: { 'controller-uid': 'old' } },
        template: { metadata: { labels: { app: 'm', 'controller-uid': 'old', 'batch.kubernetes.io/controller-uid': 'old' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } },
      },
    },
    posts: 0,
  };
  const client = {
    async request(method: string, path: string, opts: { body?: any } = {}) {
      if (method === 'GET') {
        if (!state.job) throw new KubeError(404, 'NotFound', `GET ${path}: 404`);
        return structuredClone(state.job);
      }
      if (method === 'DELETE') {
        state.job = undefined;
        return {};
      }
      if (method === 'POST') {
        state.posts++;
        if (state.posts <= conflicts) throw new KubeError(failWith, failWith === 409 ? 'AlreadyExists' : 'Invalid', `POST ${path}: ${failWith}`);
        state.job = { ...opts.body, metadata: { ...opts.body.metadata, uid: 'new' } };
        return state.job;
      }
      throw new Error(`unexpected ${method}`);
    },
  } as unknown as KubeClient;
  return { state, client };
}

const job: WorkloadEntry = {
  kind: 'Job',
  namespace: 'ns',
  name: 'migrate',
  annotations: { 'reloader.stakater.com/auto': 'true' },
  template: { spec: { containers: [{ name: 'c' }] } },
};
const change = { set: [{ kind: 'ConfigMap' as const, namespace: 'ns', name: 'cfg', hash: 'abc', envName: 'STAKATER_CFG_CONFIGMAP', container: 0 }], remove: [] };

t.test('a Job is re-created with the new hash even when the create first meets the old Job (409)', async (t) => {
  const { state, client } = jobServer(2);
  await applyReload(client, job, change);
  t.equal(state.posts, 3, 'two 409s, then created');
  t.equal(state.job?.metadata.uid, 'new');
  t.same(state.job?.spec.template.spec.containers[0].env, [{ name: 'STAKATER_CFG_CONFIGMAP', value: 'abc' }]);
  t.notOk(state.job?.spec.selector, 'the old selector is not carried over');
  t.same(state.job?.spec.template.metadata.labels, { app: 'm' }, 'controller-uid labels dropped');
  t.same(state.job?.metadata.labels, { app: 'm' });
});

t.test('a create error that retrying cannot fix is thrown at once', async (t) => {
  const { state, client } = jobServer(1, 422);
  await t.rejects(applyReload(client, job, change), /POST .*: 422/);
  t.equal(state.posts, 1);
});
