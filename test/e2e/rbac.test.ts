/**
 * The manifests on the real control plane, and proof that their RBAC is
 * enough (no 403) and no more than the code needs.
 *
 * 1. `kubectl kustomize manifests/` renders; `kubectl apply -k` of an overlay
 *    of manifests/ creates every object for real (the API server validates
 *    them; the Deployment's pods are created under the namespace's
 *    "restricted" Pod Security level and stay Pending: no scheduler). The
 *    overlay changes ONLY the webhook's clientConfig (a URL to the local
 *    process instead of the Service, which has no endpoints here) and its
 *    namespaceSelector (only this test's namespace, so other test files'
 *    pods never wait on it), plus a marker label. `kubectl apply -k
 *    manifests/ --dry-run=server` then has the API server validate the
 *    verbatim set, the Service-based webhook included, without persisting it.
 * 2. config-reloader runs OUTSIDE the cluster as the manifests'
 *    ServiceAccount (a real token from the TokenRequest API), self-managed
 *    certificates, --enable-ha: everything it does (list/watch, pod list,
 *    patch, Events, Lease, certificate Secret, caBundle patch of the
 *    manifests' own MutatingWebhookConfiguration) passes through exactly
 *    that RBAC. A reload is driven end to end and ANY 403 in its logs fails.
 * 3. SubjectAccessReviews: what the code needs is allowed (also the paths the
 *    run above does not take: CronJobs, Jobs), a sample of what it does not
 *    need is denied.
 *
 * The object names are global (namespace config-reloader,
 * MutatingWebhookConfiguration config-reloader, ClusterRole ...): the test
 * refuses to run where they exist and were not made by it (a real install or
 * someone's demo on a shared control plane), and deletes everything it
 * applied on teardown.
 */
import t from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { connect } from 'node:tls';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AuthorizationV1Api, type V1Pod } from '@kubernetes/client-node';
import { apiStatus, clients, createTestNamespace, kubeConfigForToken, kubectlPath, testKubeconfigPath, waitFor } from '../harness/cluster-env.ts';
import { freePort, newOwner, OWNER_LABEL } from '../harness/reloader.ts';
import { expectedConfigMapHash, expectedEnvName } from '../helpers/expected-hash.ts';
import { settled, templateEnv, waitForReplicaSets } from '../helpers/rollouts.ts';

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const manifestsDir = join(repoRoot, 'manifests');

// Names fixed by the manifests (and the defaults of the flags).
const NS = 'config-reloader';
const SA = 'config-reloader';
const MWC = 'config-reloader';
const CERT_SECRET = 'config-reloader-certs';
const LEASE = 'config-reloader-leader';
/** Marks what this test applied, so a rerun may reuse it and a foreign install is never touched. */
const MARK = 'config-reloader.test/e2e-install';

const c = clients();
const { core, apps, admission, coordination } = c;
const authz = c.kc.makeApiClient(AuthorizationV1Api);

async function kubectl(args: string[], opts: { cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await run(kubectlPath(), args, {
      env: { ...process.env, KUBECONFIG: testKubeconfigPath() },
      maxBuffer: 16 * 1024 * 1024,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (apiStatus(e) === 404) return undefined;
    throw e;
  }
}

// ---- guard: never overwrite an install this test did not make ---------------

{
  const mwc = await readOrUndefined(() => admission.readMutatingWebhookConfiguration({ name: MWC }));
  const ns = await readOrUndefined(() => core.readNamespace({ name: NS }));
  for (const [what, obj] of [
    [`MutatingWebhookConfiguration ${MWC}`, mwc],
    [`Namespace ${NS}`, ns],
  ] as const) {
    if (obj && obj.metadata?.labels?.[MARK] !== 'rbac') {
      const msg =
        `${what} already exists on this control plane and was not created by this test (no label ${MARK}=rbac): ` +
          'refusing to overwrite someone else\'s install. Run this file on a control plane of its own ' +
          '(e.g. `node test/harness/run-tests.ts test/e2e/rbac.test.ts` with CONFIG_RELOADER_TEST_KUBECONFIG unset), ' +
          `or delete ${what} first.`;
      t.fail(msg);
      throw new Error(msg);
    }
  }
  // A previous run's namespace may still be terminating: `apply` cannot create in it.
  if (ns?.metadata?.deletionTimestamp) {
    await waitFor(`namespace ${NS} from a previous run to be gone`, async () => (await readOrUndefined(() => core.readNamespace({ name: NS }))) === undefined, {
      timeoutMs: 120_000,
      intervalMs: 250,
    });
  }
}

// ---- the install ---------------------------------------------------------------

const owner = newOwner('rbac');
const port = await freePort();
const work = mkdtempSync(join(tmpdir(), 'cr-e2e-rbac-'));
const overlay = join(work, 'overlay');
const identity = `rbac-${owner}`;
let reloader: ChildProcess | undefined;
let exited: Promise<unknown> = Promise.resolve();
let out = '';

t.teardown(async () => {
  if (reloader && reloader.exitCode === null && reloader.signalCode === null) {
    reloader.kill('SIGTERM');
    const timer = setTimeout(() => reloader?.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  // everything the overlay applied, the Namespace (with the Secret, Lease and
  // Deployment) and the cluster-scoped objects; the namespace controller
  // finishes the namespace in the background
  try {
    await kubectl(['delete', '-k', overlay, '--ignore-not-found', '--wait=false']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

{
  mkdirSync(overlay);
  const patch = [
    { op: 'replace', path: '/webhooks/0/clientConfig', value: { url: `https://127.0.0.1:${port}/mutate` } },
    { op: 'replace', path: '/webhooks/0/namespaceSelector', value: { matchLabels: { [OWNER_LABEL]: owner } } },
  ];
  // kustomize wants a relative path to a base outside the overlay
  writeFileSync(
    join(overlay, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `  - ${JSON.stringify(relative(overlay, manifestsDir))}`,
      'labels:',
      '  - pairs:',
      `      ${JSON.stringify(MARK)}: rbac`,
      'patches:',
      '  - target:',
      '      kind: MutatingWebhookConfiguration',
      `      name: ${MWC}`,
      `    patch: ${JSON.stringify(JSON.stringify(patch))}`,
      '',
    ].join('\n'),
  );
}

t.test('kubectl kustomize manifests/ renders every object the install needs', async (t) => {
  const rendered = await kubectl(['kustomize', manifestsDir]);
  const kinds = [...rendered.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1]).sort();
  t.same(
    kinds,
    ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'MutatingWebhookConfiguration', 'Namespace', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'],
    'one of each kind',
  );
});

t.test('kubectl apply -k creates everything; the API server accepts the verbatim manifests too', async (t) => {
  await kubectl(['apply', '-k', overlay]);
  // verbatim, validated by the API server (admission included), not persisted
  const dry = await kubectl(['apply', '-k', manifestsDir, '--dry-run=server']);
  t.match(dry, /mutatingwebhookconfiguration\.admissionregistration\.k8s\.io\/config-reloader .*\(server dry run\)/, 'webhook configuration validated');
  t.match(dry, /deployment\.apps\/config-reloader .*\(server dry run\)/, 'Deployment validated');

  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'config-reloader' });
  t.equal(d.spec?.replicas, 2);
  t.same(d.spec?.template.spec?.containers[0]?.args, ['--enable-ha']);
  const mwc = await admission.readMutatingWebhookConfiguration({ name: MWC });
  const w = mwc.webhooks?.[0];
  t.equal(w?.failurePolicy, 'Ignore');
  t.equal(w?.sideEffects, 'None');
  t.equal(w?.reinvocationPolicy, 'Never');
  t.ok((w?.timeoutSeconds ?? 99) <= 5, 'timeoutSeconds <= 5');
  t.same(w?.rules?.[0]?.operations, ['CREATE']);
  t.same(w?.rules?.[0]?.resources, ['pods']);

  // The ReplicaSet controller creates the pods only if they pass the
  // namespace's Pod Security level (restricted): proves the securityContext.
  const pods = await waitFor(
    `the Deployment's 2 pods in ${NS}`,
    async () => {
      const list = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app.kubernetes.io/name=config-reloader' });
      return list.items.length >= 2 ? list.items : undefined;
    },
    { timeoutMs: 30_000 },
  );
  t.equal(pods[0]?.spec?.serviceAccountName, SA, 'pods run as the ServiceAccount');
  const ns = await core.readNamespace({ name: NS });
  t.equal(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
});

// ---- config-reloader as the ServiceAccount ---------------------------------------

/** A TLS client that trusts only `caPem` and checks the IP SAN 127.0.0.1 (Go-like strictness). */
function httpsGet(path: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, ca: caPem, agent: false, timeout: 5000 }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

function peerSerial(caPem: string): Promise<string> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port, ca: caPem, rejectUnauthorized: true }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.end();
      res(serial);
    });
    s.on('error', rej);
  });
}

let caPem = '';

t.test('config-reloader runs as the ServiceAccount: certificates, caBundle, Lease', async (t) => {
  // leftovers of an interrupted run of this test (marked namespace): start clean
  await readOrUndefined(() => core.deleteNamespacedSecret({ namespace: NS, name: CERT_SECRET }));
  await readOrUndefined(() => coordination.deleteNamespacedLease({ namespace: NS, name: LEASE }));

  const tr = await core.createNamespacedServiceAccountToken({ namespace: NS, name: SA, body: { spec: { expirationSeconds: 3600 } } });
  const token = tr.status?.token;
  t.ok(token, 'TokenRequest gave a token');
  const kubeconfigFile = join(work, 'sa.kubeconfig');
  writeFileSync(kubeconfigFile, kubeConfigForToken(token!).exportConfig(), { mode: 0o600 });

  const env: NodeJS.ProcessEnv = { ...process.env, POD_NAME: identity };
  delete env.KUBECONFIG;
  delete env.POD_NAMESPACE;
  delete env.KUBERNETES_NAMESPACE;
  reloader = spawn(
    process.execPath,
    [
      join(repoRoot, 'src/main.ts'),
      '--kubeconfig', kubeconfigFile,
      '--namespace', NS,
      '--tls-san', '127.0.0.1',
      '--webhook-config-name', MWC,
      '--enable-ha',
      '--namespace-selector', `${OWNER_LABEL}=${owner}`,
      '--port', String(port),
      '--bind-address', '127.0.0.1',
      '--log-level', 'debug',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  reloader.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  reloader.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  exited = new Promise((r) => reloader!.once('exit', r));
  const alive = () => {
    if (reloader!.exitCode !== null || reloader!.signalCode !== null) throw new Error(`config-reloader exited:\n${out.slice(-3000)}`);
  };

  const secret = await waitFor(
    `certificate Secret ${NS}/${CERT_SECRET}`,
    async () => {
      alive();
      return readOrUndefined(() => core.readNamespacedSecret({ namespace: NS, name: CERT_SECRET }));
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  for (const k of ['ca.crt', 'tls.crt', 'tls.key']) t.ok(secret.data?.[k], `Secret has ${k}`);
  caPem = Buffer.from(secret.data!['ca.crt']!, 'base64').toString();
  // (the log line may reach us a moment after the Secret is visible)
  t.ok(await waitFor('its log of creating the Secret', () => out.includes('"msg":"created the certificate secret"'), { timeoutMs: 10_000, intervalMs: 50 }), 'the ServiceAccount created it');

  const ready = await waitFor(
    '/readyz over strict TLS (only the Secret\'s CA, IP SAN 127.0.0.1)',
    async () => {
      alive();
      return (await httpsGet('/readyz', caPem)).status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  t.ok(ready);
  const served = await peerSerial(caPem);
  const tlsCrt = new X509Certificate(Buffer.from(secret.data!['tls.crt']!, 'base64'));
  t.equal(served.toUpperCase(), tlsCrt.serialNumber.toUpperCase(), 'serves the Secret\'s serving certificate');
  t.match(tlsCrt.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  t.match(tlsCrt.subjectAltName ?? '', /DNS:config-reloader\.config-reloader\.svc(,|$)/);

  const lease = await waitFor(
    `Lease ${NS}/${LEASE} held by ${identity}`,
    async () => {
      alive();
      const l = await readOrUndefined(() => coordination.readNamespacedLease({ namespace: NS, name: LEASE }));
      return l?.spec?.holderIdentity === identity ? l : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  t.ok(lease, 'leader');

  const bundle = Buffer.from(caPem).toString('base64');
  await waitFor(
    `caBundle of ${MWC} = the Secret's ca.crt`,
    async () => {
      alive();
      const mwc = await admission.readMutatingWebhookConfiguration({ name: MWC });
      return (mwc.webhooks ?? []).length > 0 && (mwc.webhooks ?? []).every((w) => w.clientConfig.caBundle === bundle);
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  t.pass('caBundle injected by the ServiceAccount');
});

t.test('a reload as the ServiceAccount: stamped pod, new ReplicaSet with the new hash, Event', async (t) => {
  const ns = await createTestNamespace(t, { prefix: 'rbac-app', labels: { [OWNER_LABEL]: owner } });
  await waitFor(
    `config-reloader watching ${ns}`,
    async () => !(await httpsGet(`/explain/deployment/${ns}/-`, caPem)).body.includes('not watched'),
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  const ENV = expectedEnvName('CONFIGMAP', 'app-config');
  const h1 = expectedConfigMapHash({ greeting: 'hello' });
  const h2 = expectedConfigMapHash({ greeting: 'bonjour' });
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'app-config' }, data: { greeting: 'hello' } } });
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'web', annotations: { 'reloader.stakater.com/auto': 'true' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: 'registry.example/app:1', envFrom: [{ configMapRef: { name: 'app-config' } }] }] } },
      },
    },
  });
  const envOf = (p: V1Pod) => Object.fromEntries((p.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
  const podWith = (hash: string) =>
    waitFor(
      `a pod of ${ns}/web stamped ${ENV}=${hash}`,
      async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items.find((p) => envOf(p)[ENV] === hash),
      { timeoutMs: 30_000 },
    );
  await podWith(h1);
  t.pass('the webhook stamped the first pod');
  await waitForReplicaSets(ns, 'web', 1);

  const cm = await core.readNamespacedConfigMap({ namespace: ns, name: 'app-config' });
  cm.data = { greeting: 'bonjour' };
  await core.replaceNamespacedConfigMap({ namespace: ns, name: 'app-config', body: cm });

  const rs = await waitForReplicaSets(ns, 'web', 2);
  const d = await settled(ns, 'web');
  t.equal(templateEnv(d)[ENV], h2, 'the Deployment template carries the new hash');
  const newest = rs.find((r) => templateEnv(r)[ENV] === h2);
  t.ok(newest, 'a new ReplicaSet with the new hash');
  await podWith(h2);
  t.pass('its pod is stamped with the new hash');

  const ev = await waitFor(
    'a Reloaded Event on the Deployment',
    async () =>
      (await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.kind=Deployment,involvedObject.name=web' })).items.find(
        (e) => e.reason === 'Reloaded',
      ),
    { timeoutMs: 30_000 },
  );
  t.equal(ev.source?.component, 'config-reloader');
});

t.test('nothing was forbidden', async (t) => {
  // (log lines come through a pipe: wait for the ones the steps above imply)
  for (const msg of ['became leader', 'caBundle injected', 'reloaded']) {
    t.ok(await waitFor(`the log line "${msg}"`, () => out.includes(`"msg":"${msg}"`), { timeoutMs: 10_000, intervalMs: 50 }), `logged "${msg}"`);
  }
  const lines = out.split('\n').filter((l) => /\b403\b|forbidden/i.test(l));
  t.same(lines, [], 'no 403 / Forbidden in the logs');
});

// ---- least privilege ----------------------------------------------------------------

t.test('SubjectAccessReviews: what the code needs is allowed, a sample of the rest is denied', async (t) => {
  const user = `system:serviceaccount:${NS}:${SA}`;
  type Access = [verb: string, group: string, resource: string, namespace?: string, name?: string];
  const can = async (...[verb, group, resource, namespace, name]: Access): Promise<boolean> => {
    const r = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
          resourceAttributes: { verb, group, resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) },
        },
      },
    });
    return r.status?.allowed === true;
  };
  const other = 'some-app';
  const allowed: Access[] = [
    ['list', '', 'configmaps'],
    ['watch', '', 'secrets'],
    ['patch', 'apps', 'deployments', other, 'web'],
    ['patch', 'apps', 'statefulsets', other, 'db'],
    ['patch', 'apps', 'daemonsets', other, 'agent'],
    ['patch', 'batch', 'cronjobs', other, 'nightly'],
    ['get', 'batch', 'cronjobs', other, 'nightly'],
    ['create', 'batch', 'jobs', other],
    ['get', 'batch', 'jobs', other, 'once'],
    ['delete', 'batch', 'jobs', other, 'once'],
    ['list', '', 'pods', other],
    ['create', '', 'events', other],
    ['watch', '', 'namespaces'],
    ['get', '', 'secrets', NS, CERT_SECRET],
    ['update', '', 'secrets', NS, CERT_SECRET],
    ['create', '', 'secrets', NS],
    ['get', 'coordination.k8s.io', 'leases', NS, LEASE],
    ['update', 'coordination.k8s.io', 'leases', NS, LEASE],
    ['create', 'coordination.k8s.io', 'leases', NS],
    ['get', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', undefined, MWC],
    ['patch', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', undefined, MWC],
  ];
  const denied: Access[] = [
    ['get', '', 'secrets', other, 'db-password'],
    ['update', '', 'secrets', NS, 'another-secret'],
    ['create', '', 'secrets', other],
    ['update', '', 'configmaps', other, 'app'],
    ['delete', 'apps', 'deployments', other, 'web'],
    ['update', 'apps', 'deployments', other, 'web'],
    ['create', '', 'pods', other],
    ['delete', '', 'pods', other, 'web-1'],
    ['watch', '', 'pods', other],
    ['patch', '', 'events', other, 'x'],
    ['update', 'coordination.k8s.io', 'leases', NS, 'someone-elses-lease'],
    ['create', 'coordination.k8s.io', 'leases', other],
    ['patch', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', undefined, 'another-webhook'],
    ['create', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations'],
    ['patch', 'admissionregistration.k8s.io', 'validatingwebhookconfigurations', undefined, MWC],
    ['create', 'rbac.authorization.k8s.io', 'clusterrolebindings'],
    ['delete', '', 'namespaces', undefined, other],
  ];
  for (const a of allowed) t.ok(await can(...a), `allowed: ${a.filter(Boolean).join(' ')}`);
  for (const a of denied) t.notOk(await can(...a), `denied: ${a.filter(Boolean).join(' ')}`);
});
