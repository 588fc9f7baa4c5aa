/**
 * `npm run demo`: the first thing to run. Starts a local control plane
 * (building it the first time, with progress), runs config-reloader against
 * it with self-managed certificates, applies an annotated Deployment with a
 * ConfigMap and a Secret, edits the ConfigMap, and says what happened. Then
 * it keeps running until Ctrl-C so you can try kubectl and curl yourself.
 *
 *   npm run demo            # interactive: stays up until Ctrl-C
 *   npm run demo -- --once  # non-interactive (CI): exits 0 after the reload
 */
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { parseConfig } from '../src/config/config.ts';
import { createLogger } from '../src/server/logger.ts';
import { run, type Running } from '../src/run.ts';
import { freePort, startControlPlane, waitFor, type ControlPlane } from '../test/harness/control-plane.ts';
import { podWebhook } from '../test/harness/webhook-config.ts';

const once = process.argv.includes('--once');
const t0 = Date.now();
const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const say = (s = '') => process.stdout.write(`${s}\n`);


let cp: ControlPlane | undefined;
let reloader: Running | undefined;
async function shutdown(code: number): Promise<never> {
  await reloader?.stop().catch(() => undefined);
  await cp?.stop().catch(() => undefined);
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void shutdown(0));

try {
  say('config-reloader demo: starting a local Kubernetes control plane (the first run builds it from source: ~6 min)…');
  cp = await startControlPlane({ verbose: true });
  say(`control plane ready at ${cp.server} (${secs()} since start)`);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);

  await core.createNamespace({ body: { metadata: { name: 'config-reloader' } } });
  await core.createNamespace({ body: { metadata: { name: 'demo' } } });
  const port = await freePort();
  // Out of a cluster the API server reaches the webhook by URL; the
  // certificate carries the IP SAN 127.0.0.1 and config-reloader writes its CA
  // into caBundle itself (self-managed mode).
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: 'config-reloader' },
      webhooks: [podWebhook({ port, namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['config-reloader', 'kube-system'] }] } })],
    },
  });

  const args = ['--kubeconfig', cp.kubeconfigPath, '--port', String(port), '--bind-address', '127.0.0.1', '--namespace', 'config-reloader', '--tls-san', '127.0.0.1', '--debounce', '500ms'];
  const config = parseConfig(args, { POD_NAME: 'demo' });
  reloader = await run(config, { logger: createLogger({ level: 'warn' }) });
  say(`config-reloader listening on https://127.0.0.1:${port} (self-managed certificates in Secret config-reloader/${config.tls.secretName})`);
  await waitFor('caBundle injected', async () => {
    const m = await admission.readMutatingWebhookConfiguration({ name: 'config-reloader' });
    return Boolean(m.webhooks?.[0]?.clientConfig.caBundle);
  });
  await waitFor('config-reloader ready', () => reloader!.caches.ready());

  await core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'demo-config' }, data: { greeting: 'hello' } } });
  await core.createNamespacedSecret({ namespace: 'demo', body: { metadata: { name: 'demo-secret' }, stringData: { password: 'change-me' } } });
  await apps.createNamespacedDeployment({
    namespace: 'demo',
    body: {
      metadata: { name: 'demo-app', annotations: { 'reloader.stakater.com/auto': 'true' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'demo-app' } },
        template: {
          metadata: { labels: { app: 'demo-app' } },
          spec: {
            containers: [{ name: 'app', image: 'nginx:stable', envFrom: [{ secretRef: { name: 'demo-secret' } }], volumeMounts: [{ name: 'config', mountPath: '/etc/demo' }] }],
            volumes: [{ name: 'config', configMap: { name: 'demo-config' } }],
          },
        },
      },
    },
  });
  say('\napplied: ConfigMap demo/demo-config (greeting=hello), Secret demo/demo-secret, Deployment demo/demo-app annotated reloader.stakater.com/auto: "true"');

  const ENV = 'STAKATER_DEMO_CONFIG_CONFIGMAP';
  const envOf = (p: V1Pod) => p.spec?.containers[0]?.env?.find((e) => e.name === ENV)?.value;
  const firstPod = await waitFor('a pod', async () => (await core.listNamespacedPod({ namespace: 'demo' })).items.find(envOf));
  const before = envOf(firstPod)!;
  const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
  say(`the webhook stamped pod ${firstPod.metadata?.generateName}… with ${ENV}=${before}`);
  say(`  (that is sha1("greeting=hello") = ${sha1('greeting=hello')}: the config the pod starts with)`);

  const editAt = Date.now();
  const cm = await core.readNamespacedConfigMap({ namespace: 'demo', name: 'demo-config' });
  cm.data = { greeting: 'bonjour' };
  await core.replaceNamespacedConfigMap({ namespace: 'demo', name: 'demo-config', body: cm });
  say('\nedited: ConfigMap demo/demo-config greeting=hello → greeting=bonjour');
  const dep = await waitFor('the template patched', async () => {
    const d = await apps.readNamespacedDeployment({ namespace: 'demo', name: 'demo-app' });
    const v = d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === ENV)?.value;
    return v && v !== before ? d : undefined;
  });
  const after = dep.spec!.template.spec!.containers[0]!.env!.find((e) => e.name === ENV)!.value!;
  const reactedMs = Date.now() - editAt;
  const newRs = await waitFor('the new ReplicaSet', async () => {
    const list = await apps.listNamespacedReplicaSet({ namespace: 'demo' });
    return list.items.find((rs) => rs.spec?.template?.spec?.containers[0]?.env?.some((e) => e.name === ENV && e.value === after));
  });
  const newPod = await waitFor('a pod of the new ReplicaSet', async () =>
    (await core.listNamespacedPod({ namespace: 'demo' })).items.find((p) => p.metadata?.ownerReferences?.[0]?.name === newRs.metadata?.name),
  );
  say(`config-reloader patched Deployment demo/demo-app ${reactedMs} ms after the edit:`);
  say(`  hash before: ${before}`);
  say(`  hash after:  ${after}  (sha1("greeting=bonjour") = ${sha1('greeting=bonjour')})`);
  say(`  new ReplicaSet: ${newRs.metadata?.name}`);
  say(`  its pod ${newPod.metadata?.name} carries ${ENV}=${envOf(newPod)}`);
  say(`first reload ${secs()} after \`npm run demo\` started`);

  if (once) await shutdown(0);
  const kubectl = cp.kubectlPath ?? 'kubectl';
  say('\nTry it yourself (in another shell):');
  say(`  export KUBECONFIG=${cp.kubeconfigPath}`);
  say(`  ${kubectl} -n demo get deploy,rs,pods`);
  say(`  ${kubectl} -n demo edit configmap demo-config`);
  say(`  curl -k https://127.0.0.1:${port}/healthz ; curl -k https://127.0.0.1:${port}/readyz`);
  say(`  curl -k https://127.0.0.1:${port}/explain/deployment/demo/demo-app`);
  say('Press Ctrl-C to stop.');
} catch (e) {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  await shutdown(1);
}
