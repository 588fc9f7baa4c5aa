/**
 * Wiring: from one parsed Config to a running config-reloader — caches,
 * controller, leader election, certificates and the HTTPS server — and back
 * down again. main.ts calls it for the bin; tests and the demo call it
 * in-process.
 */
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from './config/config.ts';
import type { PolicyOptions } from './core/policy.ts';
import type { ResourceKind, WorkloadKind } from './core/types.ts';
import type { CertPair } from './certs/types.ts';
import { openCertDir, type FileSource } from './certs/file-source.ts';
import { build, type ServerApp } from './server/app.ts';
import { installShutdown } from './server/shutdown.ts';
import { createLogger } from './server/logger.ts';
import { createAdmissionHandler } from './webhook/handler.ts';
import { Caches } from './watcher/cache.ts';
import { Controller } from './watcher/controller.ts';
import { explainRoutes } from './watcher/explain.ts';
import { KubeClient } from './watcher/kube-client.ts';
import { loadCredentials } from './watcher/kubeconfig.ts';
import { LeaderElector } from './watcher/leader.ts';
import { createWatcherMetrics } from './watcher/metrics.ts';
import type { SelfManagedCerts } from './certs/self-managed.ts';

/** A running instance. */
export interface Running {
  app: ServerApp;
  caches: Caches;
  controller: Controller;
  client: KubeClient;
  /** The port actually bound (useful with --port 0). */
  port: number;
  /** Stop everything: server, leader (releasing the Lease), controller, caches, cert sources. */
  stop(): Promise<void>;
}

/** Policy options from the configuration. */
export function policyOptions(config: Config, log?: Logger): PolicyOptions {
  const all: ResourceKind[] = ['ConfigMap', 'Secret'];
  const workloadAll: WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout', 'CronJob', 'Job'];
  return {
    annotations: config.annotations,
    autoReloadAll: config.policy.autoReloadAll,
    ignoredWorkloadTypes: new Set(workloadAll.filter((k) => !config.policy.workloadKinds.includes(k))),
    ignoredResourceKinds: new Set(all.filter((k) => !config.watch.resourceKinds.includes(k))),
    onInvalidRegex: (pattern, message) => log?.warn({ pattern, err: message }, 'invalid regex in a reload annotation, skipped'),
  };
}

/** Start config-reloader from `config`. Resolves once the server listens. */
export async function run(config: Config, opts: { logger?: Logger; handleSignals?: boolean } = {}): Promise<Running> {
  const log = opts.logger ?? createLogger({ level: config.logging.level });
  for (const w of config.warnings) log.warn({}, w);
  const client = new KubeClient(await loadCredentials(config.kube));
  const policy = policyOptions(config, log);
  const registry = new Registry();
  let controller: Controller | undefined;
  const metrics = createWatcherMetrics(registry, () => controller?.queue.depth ?? 0);

  const caches = new Caches(client, {
    ...(config.watch.allNamespaces ? {} : { namespaces: config.watch.namespaces }),
    namespacesToIgnore: new Set(config.watch.namespacesToIgnore),
    ...(config.watch.namespaceSelector ? { namespaceSelector: config.watch.namespaceSelector } : {}),
    ...(config.watch.resourceLabelSelector ? { resourceLabelSelector: config.watch.resourceLabelSelector } : {}),
    includeHelmSecrets: config.watch.includeHelmSecrets,
    workloadKinds: new Set(config.policy.workloadKinds),
    policy,
    log,
    onRestart: (reflector) => metrics.informerRestarts.inc({ reflector }),
  });

  // Certificates first: the server needs one to be ready.
  let fileSource: FileSource | undefined;
  let selfManaged: SelfManagedCerts | undefined;
  let app: ServerApp | undefined;
  let initial: CertPair;
  const swap = (pair: CertPair) => {
    try {
      app?.setCertificate(pair);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'new certificate rejected, keeping the old one');
    }
  };
  if (config.tls.mode === 'provided') {
    fileSource = await openCertDir({
      dir: config.tls.certDir!,
      onChange: swap,
      logger: log,
    });
    initial = fileSource.current();
  } else {
    // Loaded only in this mode: node-forge (X.509 issuing) costs ~8 MB of RSS
    // that a --cert-dir deployment (cert-manager) never needs.
    const { startSelfManagedCerts } = await import('./certs/self-managed.ts');
    selfManaged = await startSelfManagedCerts(client, {
      namespace: config.identity.namespace,
      secretName: config.tls.secretName,
      webhookConfigName: config.tls.webhookConfigName,
      dnsNames: config.tls.sans.dnsNames,
      ipAddresses: config.tls.sans.ipAddresses,
      onChange: swap,
      logger: log,
      checkIntervalMs: config.tls.checkIntervalMs,
    });
    initial = selfManaged.current();
  }

  app = build({
    admit: createAdmissionHandler(caches, { policy, waitMs: config.webhook.waitMs, log }),
    ready: () => caches.ready(),
    tls: initial,
    logger: log,
    registry,
  });
  controller = new Controller(client, caches, {
    policy,
    strategy: config.reload.strategy,
    reloadOnCreate: config.reload.onCreate,
    reloadOnDelete: config.reload.onDelete,
    debounceMs: config.reload.debounceMs,
    minReloadIntervalMs: config.reload.minReloadIntervalMs,
    maxReloadsPerSecond: config.reload.maxReloadsPerSecond,
    resyncPeriodMs: config.watch.resyncPeriodMs,
    ...(config.reload.webhookUrl ? { webhookUrl: config.reload.webhookUrl } : {}),
    ...(config.alerts.enabled && config.alerts.webhookUrl
      ? { alerts: { sink: config.alerts.sink === 'raw' ? ('webhook' as const) : config.alerts.sink, url: config.alerts.webhookUrl, ...(config.alerts.additionalInfo ? { additionalInfo: config.alerts.additionalInfo } : {}) } }
      : {}),
    identity: config.identity.podName,
    log,
    metrics,
  });
  const ctl = controller;
  app.register(explainRoutes, { controller: ctl });

  let leader: LeaderElector | undefined;
  if (config.leaderElection.enabled) {
    leader = new LeaderElector(client, {
      namespace: config.leaderElection.namespace,
      name: config.leaderElection.leaseName,
      identity: config.leaderElection.identity,
      leaseDurationMs: config.leaderElection.leaseDurationMs,
      renewDeadlineMs: config.leaderElection.renewDeadlineMs,
      retryPeriodMs: config.leaderElection.retryPeriodMs,
      onStartedLeading: () => {
        selfManaged?.setLeader(true);
        void caches.whenSynced().then(() => leader?.isLeader && ctl.setLeader(true));
      },
      onStoppedLeading: () => {
        selfManaged?.setLeader(false);
        ctl.setLeader(false);
      },
      log,
    });
  }

  let stopping: Promise<void> | undefined;
  const stopRest = async () => {
    await leader?.stop();
    await ctl.stop();
    await caches.stop();
    fileSource?.close();
    await selfManaged?.stop();
    client.close();
  };
  // SIGTERM: stop accepting, finish in-flight admissions, then release the
  // Lease and stop watching (installed before listen, as the server wants).
  if (opts.handleSignals) installShutdown(app, { hooks: [() => (stopping ??= stopRest())] });

  caches.start();
  await app.listen({ port: config.server.port, host: config.server.bindAddress });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  log.info({ port, mode: config.tls.mode, ha: config.leaderElection.enabled }, 'listening');
  if (leader) leader.start();
  else {
    selfManaged?.setLeader(true);
    void caches.whenSynced().then(() => ctl.setLeader(true));
  }
  void caches.whenSynced().then(() => log.info({}, 'caches synced'));

  const stop = async () => {
    await app!.close();
    await (stopping ??= stopRest());
  };
  return { app, caches, controller: ctl, client, port, stop };
}
