/**
 * The one typed configuration object, parsed once at start-up from argv and
 * the environment. Nothing else in the program reads `process.env`: main
 * passes it here and hands the resulting {@link Config} around.
 */
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { ResourceKind, WorkloadKind } from '../core/types.ts';
import { defaultAnnotationNames, type AnnotationNames } from './annotations.ts';
import { MAX_TIMER_MS, formatDuration, parseGoDuration } from './duration.ts';
import { ConfigError } from './errors.ts';
import { flagSpec, scanArgv, type RawFlags } from './flags.ts';
import {
  buildLabelSelector,
  checkAnnotationKey,
  checkNamespace,
  checkObjectName,
  checkServiceName,
  isDnsName,
  isIpAddress,
  parseGoBool,
  splitList,
} from './values.ts';

export { ConfigError } from './errors.ts';

/** Where the hash goes (Reloader's `--reload-strategy`). */
export type ReloadStrategy = 'env-vars' | 'annotations';
/** pino log levels (Reloader's logrus `panic` maps to `fatal`, `warning` to `warn`). */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
/** Alert payload format (Reloader's `ALERT_SINK`). */
export type AlertSink = 'slack' | 'teams' | 'gchat' | 'raw';
/** Values of `--ignored-workload-types`: Reloader's two plus the other kinds we reload. */
export type IgnorableWorkloadType = 'jobs' | 'cronjobs' | 'deployments' | 'statefulsets' | 'daemonsets' | 'rollouts';

/** The HTTPS server (one port for /mutate, probes and /metrics). */
export interface ServerConfig {
  /** `--port`, default 8443. */
  port: number;
  /** `--bind-address`, default `0.0.0.0`. */
  bindAddress: string;
}

/** Serving certificate: provided (files) or self-managed (Secret + CA injection). */
export interface TlsConfig {
  /** `provided` when `--cert-dir` is given, else `self-managed`. */
  mode: 'provided' | 'self-managed';
  /** `--cert-dir` (provided mode only). */
  certDir: string | undefined;
  /** `<cert-dir>/tls.crt` (provided mode only). */
  certFile: string | undefined;
  /** `<cert-dir>/tls.key` (provided mode only). */
  keyFile: string | undefined;
  /** `--cert-secret`: Secret in the own namespace holding CA and serving cert (self-managed). */
  secretName: string;
  /** `--cert-check-interval` in ms: how often the certificate Secret is re-read (self-managed). */
  checkIntervalMs: number;
  /** `--service-name`: the webhook's Service. */
  serviceName: string;
  /** `--webhook-config-name`: MutatingWebhookConfiguration to inject the CA into. */
  webhookConfigName: string;
  /**
   * Complete subjectAltName of the serving certificate: `svc`, `svc.ns`,
   * `svc.ns.svc`, `svc.ns.svc.cluster.local`, then every DNS `--tls-san`
   * (lowercased, deduplicated), and every IP `--tls-san`.
   */
  sans: { dnsNames: string[]; ipAddresses: string[] };
}

/** How to reach the API server. */
export interface KubeConnectionConfig {
  /** Path of the kubeconfig file, or undefined for in-cluster configuration. */
  kubeconfig: string | undefined;
  /** Where `kubeconfig` came from: `--kubeconfig`, `$KUBECONFIG`, or none (in-cluster). */
  source: 'flag' | 'env' | 'in-cluster';
  /** `$KUBERNETES_SERVICE_HOST` and `$KUBERNETES_SERVICE_PORT`, for the in-cluster configuration. */
  serviceHost: string | undefined;
  servicePort: string | undefined;
}

/** Who this process is. */
export interface IdentityConfig {
  /** Own namespace: `--namespace`, else `$POD_NAMESPACE`, else `$RELOADER_NAMESPACE`, else `config-reloader`. */
  namespace: string;
  /** Where `namespace` came from. */
  namespaceSource: 'flag' | 'POD_NAMESPACE' | 'RELOADER_NAMESPACE' | 'default';
  /** `$POD_NAME`, else `$HOSTNAME`, else the host name. */
  podName: string;
}

/** Which ConfigMaps, Secrets and namespaces are watched. */
export interface WatchConfig {
  /** True when every namespace is watched (no `--namespaces`, no `$KUBERNETES_NAMESPACE`). */
  allNamespaces: boolean;
  /** The namespaces watched when `allNamespaces` is false (else empty). */
  namespaces: string[];
  /** What set `namespaces`: the flag wins over Reloader's env var. */
  namespacesFrom: '--namespaces' | 'KUBERNETES_NAMESPACE' | undefined;
  /** `--namespaces-to-ignore`; empty unless all namespaces are watched (as Reloader). */
  namespacesToIgnore: string[];
  /** `--namespace-selector` as one Kubernetes label selector; `""` = none. Empty unless all namespaces are watched. */
  namespaceSelector: string;
  /** `--resource-label-selector` as one Kubernetes label selector; `""` = none. */
  resourceLabelSelector: string;
  /** Kinds watched: both, minus `--resources-to-ignore`. */
  resourceKinds: ResourceKind[];
  /** `--include-helm-secrets`: watch Secrets of type `helm.sh/release.v1` too. */
  includeHelmSecrets: boolean;
  /** `--resync-period` in ms; 0 = no periodic resync. */
  resyncPeriodMs: number;
}

/** Which workloads may be reloaded and when. */
export interface PolicyConfig {
  /** `--auto-reload-all`: every workload behaves as annotated `auto: "true"`. */
  autoReloadAll: boolean;
  /** `--is-Argo-Rollouts`. */
  argoRollouts: boolean;
  /** `--ignored-workload-types`, lowercased and deduplicated. */
  ignoredWorkloadTypes: IgnorableWorkloadType[];
  /**
   * Workload kinds to watch and reload: Deployment, StatefulSet, DaemonSet,
   * Rollout (with `--is-Argo-Rollouts`), CronJob, Job; minus the ignored types.
   */
  workloadKinds: WorkloadKind[];
}

/** How and how fast reloads happen. */
export interface ReloadConfig {
  /** `--reload-strategy`. */
  strategy: ReloadStrategy;
  /** `--reload-on-create`. */
  onCreate: boolean;
  /** `--reload-on-delete`. */
  onDelete: boolean;
  /** `--webhook-url`: when set, POST there instead of patching. */
  webhookUrl: string | undefined;
  /** `--debounce` in ms; 0 = off. */
  debounceMs: number;
  /** `--min-reload-interval` in ms per workload; 0 = off. */
  minReloadIntervalMs: number;
  /** `--max-reloads-per-second` (global); 0 = off. */
  maxReloadsPerSecond: number;
}

/** The admission webhook. */
export interface WebhookConfig {
  /** `--webhook-wait` in ms: bounded wait for a cache miss (always < 5000). */
  waitMs: number;
}

/** Lease-based leader election (only the leader patches). */
export interface LeaderElectionConfig {
  /** `--enable-ha`. Without it the process is the only writer and takes no Lease. */
  enabled: boolean;
  /** Holder identity: the pod name. */
  identity: string;
  /** Namespace of the Lease: the own namespace. */
  namespace: string;
  /** Lease name: `<service-name>-leader`. */
  leaseName: string;
  /** `--leader-election-lease-duration` in ms (default 15s, as Reloader hard-codes). */
  leaseDurationMs: number;
  /** `--leader-election-renew-deadline` in ms (default 10s). */
  renewDeadlineMs: number;
  /** `--leader-election-retry-period` in ms (default 2s). */
  retryPeriodMs: number;
}

/** Reloader's reload alerts, configured by environment variables only. */
export interface AlertsConfig {
  /** `ALERT_ON_RELOAD` is true. */
  enabled: boolean;
  /** `ALERT_SINK`, lowercased; anything else (or unset) is `raw`, as in Reloader. */
  sink: AlertSink;
  /** `ALERT_WEBHOOK_URL`, trimmed. */
  webhookUrl: string | undefined;
  /** `ALERT_WEBHOOK_PROXY`, trimmed. */
  proxy: string | undefined;
  /** `ALERT_ADDITIONAL_INFO`, trimmed; alerts read `<info> : <message>` when set. */
  additionalInfo: string | undefined;
}

/** Logging (always structured JSON, pino). */
export interface LoggingConfig {
  /** `--log-level`, mapped to pino. */
  level: LogLevel;
  /** `--log-format` as given (`""` or `json`); recorded only, output is always JSON. */
  format: '' | 'json';
}

/** Metrics options. */
export interface MetricsConfig {
  /** `METRICS_COUNT_BY_NAMESPACE=enabled`: also count reloads per namespace. */
  countByNamespace: boolean;
}

/** Reloader flags accepted for compatibility that change nothing (yet). */
export interface CompatConfig {
  /** `--sync-after-restart` (no effect needed: reconcile is level-triggered). */
  syncAfterRestart: boolean;
  /** `--enable-pprof` (not built). */
  enablePprof: boolean;
  /** `--pprof-addr` (not built). */
  pprofAddr: string;
  /** `--enable-csi-integration` (not built). */
  enableCsiIntegration: boolean;
}

/** The whole configuration. Treat it as immutable once parsed. */
export interface Config {
  server: ServerConfig;
  tls: TlsConfig;
  kube: KubeConnectionConfig;
  identity: IdentityConfig;
  watch: WatchConfig;
  /** Annotation names in effect (the policy code reads them from here). */
  annotations: AnnotationNames;
  policy: PolicyConfig;
  reload: ReloadConfig;
  webhook: WebhookConfig;
  leaderElection: LeaderElectionConfig;
  alerts: AlertsConfig;
  logging: LoggingConfig;
  metrics: MetricsConfig;
  compat: CompatConfig;
  /** Messages for main to log at `warn` once the logger exists. */
  warnings: string[];
}

/** What parseConfig needs from the host besides argv and env (injectable for tests). */
export interface ConfigHost {
  /** The machine's host name (leader election identity fallback). */
  hostname(): string;
}

const DEFAULT_HOST: ConfigHost = { hostname: osHostname };

/** Fallback own namespace when neither the flag nor the environment names one. */
export const DEFAULT_NAMESPACE = 'config-reloader';
/** Admission requests must finish well within the webhook's timeoutSeconds (≤ 5 s). */
export const MAX_WEBHOOK_WAIT_MS = 5000;
/** client-go's leader election jitter factor: renewDeadline must exceed retryPeriod × this. */
const LEADER_JITTER = 1.2;

const IGNORABLE_WORKLOAD_TYPES: readonly IgnorableWorkloadType[] = [
  'jobs',
  'cronjobs',
  'deployments',
  'statefulsets',
  'daemonsets',
  'rollouts',
];

const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'fatal',
};

const ALERT_SINKS: readonly AlertSink[] = ['slack', 'teams', 'gchat', 'raw'];

/** The message of an error thrown by one of the value checkers (they throw only Errors). */
function reasonOf(e: unknown): string {
  return (e as Error).message;
}

/** Throw a ConfigError for a bad value of flag `name`. */
function badFlag(name: string, value: string, why: string): never {
  throw new ConfigError(`--${name}`, `invalid value ${JSON.stringify(value)} for --${name}: ${why}`);
}

/** Throw a ConfigError for a bad value of environment variable `name`. */
function badEnv(name: string, value: string, why: string): never {
  throw new ConfigError(name, `invalid value ${JSON.stringify(value)} for environment variable ${name}: ${why}`);
}

/** Run `check(value)`, turning a thrown Error into a ConfigError naming the flag. */
function checked<T>(name: string, value: string, check: (v: string) => T): T {
  try {
    return check(value);
  } catch (e) {
    return badFlag(name, value, reasonOf(e));
  }
}

/** Typed access to the raw flag values, falling back to the table defaults. */
class Flags {
  readonly raw: RawFlags;

  constructor(raw: RawFlags) {
    this.raw = raw;
  }

  given(name: string): boolean {
    return this.raw.has(flagSpec(name).name);
  }

  /** The last value given, else the default. */
  string(name: string): string {
    const values = this.raw.get(flagSpec(name).name);
    return values?.[values.length - 1] ?? flagSpec(name).default;
  }

  /** Every item of every occurrence (comma lists, repeatable), else the default's items. */
  list(name: string): string[] {
    const values = this.raw.get(flagSpec(name).name) ?? [flagSpec(name).default];
    return values.flatMap(splitList);
  }

  bool(name: string): boolean {
    return checked(name, this.string(name), parseGoBool);
  }

  /** A non-negative duration in ms, at most what a Node.js timer accepts. */
  duration(name: string): number {
    return checked(name, this.string(name), (v) => {
      const ms = parseGoDuration(v);
      if (ms < 0) throw new Error('must not be negative');
      if (ms > MAX_TIMER_MS) throw new Error(`must be at most ${formatDuration(MAX_TIMER_MS)}`);
      return ms;
    });
  }
}

/** Read an environment variable, trimmed; empty counts as unset. */
function envValue(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function checkHttpUrl(v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error('must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error('must be an absolute http:// or https:// URL');
  }
  return v;
}

/** Parse `--port`: an integer 1–65535. */
function parsePort(v: string): number {
  const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new Error('must be an integer between 1 and 65535');
  return n;
}

/** Parse `--max-reloads-per-second`: a non-negative decimal number, or a zero duration (`0s`). */
function parseRate(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v) || /^\.\d+$/.test(v)) return Number(v);
  let zero = false;
  try {
    zero = parseGoDuration(v) === 0;
  } catch {
    // not a duration either
  }
  if (zero) return 0;
  throw new Error('must be a non-negative number of reloads per second (0 turns the limit off)');
}

function parseHostPort(v: string): string {
  const m = /^(.*):(\d{1,5})$/.exec(v);
  if (m === null || Number(m[2]) > 65535) throw new Error('must be host:port, e.g. ":6060" or "127.0.0.1:6060"');
  return v;
}

/**
 * Parse the command line (without `node` and the script) and the
 * environment into a {@link Config}. Pure: reads nothing else (the host name,
 * used only when neither `POD_NAME` nor `HOSTNAME` is set, comes from `host`).
 * `--help` is ignored here; check {@link isHelp} first.
 *
 * Precedence: a flag wins over the environment variable for the same
 * setting, which wins over the default.
 *
 * @throws ConfigError naming the flag (or environment variable) for an
 *   unknown flag, a missing or bad value, or an inconsistent combination.
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  host: ConfigHost = DEFAULT_HOST,
): Config {
  const f = new Flags(scanArgv(argv));
  const warnings: string[] = [];

  // --- server and webhook ---------------------------------------------------
  const port = checked('port', f.string('port'), parsePort);
  const bindAddress = checked('bind-address', f.string('bind-address'), (v) => {
    if (!isIpAddress(v) && !isDnsName(v)) throw new Error('must be an IP address or a host name');
    return v;
  });
  const certCheckIntervalMs = f.duration('cert-check-interval');
  if (!(certCheckIntervalMs >= 1000)) badFlag('cert-check-interval', f.string('cert-check-interval'), 'must be at least 1s');
  const waitMs = f.duration('webhook-wait');
  if (waitMs >= MAX_WEBHOOK_WAIT_MS) {
    badFlag('webhook-wait', f.string('webhook-wait'), `must be less than ${formatDuration(MAX_WEBHOOK_WAIT_MS)} (the webhook's timeoutSeconds is at most 5)`);
  }

  // --- identity ---------------------------------------------------------------
  let namespace: string;
  let namespaceSource: IdentityConfig['namespaceSource'];
  const podNamespace = envValue(env, 'POD_NAMESPACE');
  const reloaderNamespace = envValue(env, 'RELOADER_NAMESPACE');
  if (f.given('namespace')) {
    namespace = checked('namespace', f.string('namespace'), checkNamespace);
    namespaceSource = 'flag';
  } else if (podNamespace !== undefined) {
    namespace = envChecked('POD_NAMESPACE', podNamespace, checkNamespace);
    namespaceSource = 'POD_NAMESPACE';
  } else if (reloaderNamespace !== undefined) {
    namespace = envChecked('RELOADER_NAMESPACE', reloaderNamespace, checkNamespace);
    namespaceSource = 'RELOADER_NAMESPACE';
  } else {
    namespace = DEFAULT_NAMESPACE;
    namespaceSource = 'default';
  }
  const podName = envValue(env, 'POD_NAME') ?? envValue(env, 'HOSTNAME') ?? host.hostname();

  // --- TLS ----------------------------------------------------------------------
  const certDirGiven = f.given('cert-dir');
  const certDir = certDirGiven
    ? checked('cert-dir', f.string('cert-dir'), (v) => {
        if (v === '') throw new Error('must not be empty (leave the flag out for self-managed mode)');
        return v;
      })
    : undefined;
  const secretName = checked('cert-secret', f.string('cert-secret'), checkObjectName);
  const serviceName = checked('service-name', f.string('service-name'), checkServiceName);
  const webhookConfigName = checked('webhook-config-name', f.string('webhook-config-name'), checkObjectName);
  const dnsNames = [
    serviceName,
    `${serviceName}.${namespace}`,
    `${serviceName}.${namespace}.svc`,
    `${serviceName}.${namespace}.svc.cluster.local`,
  ];
  const ipAddresses: string[] = [];
  for (const san of f.list('tls-san')) {
    if (isIpAddress(san)) {
      if (!ipAddresses.includes(san)) ipAddresses.push(san);
    } else if (isDnsName(san)) {
      const name = san.toLowerCase();
      if (!dnsNames.includes(name)) dnsNames.push(name);
    } else {
      badFlag('tls-san', san, 'must be a DNS name (e.g. webhook.example.com) or an IP address');
    }
  }

  // --- Kubernetes connection --------------------------------------------------
  const kubeconfigFlag = f.string('kubeconfig');
  const kubeconfigEnv = envValue(env, 'KUBECONFIG');
  const service = { serviceHost: envValue(env, 'KUBERNETES_SERVICE_HOST'), servicePort: envValue(env, 'KUBERNETES_SERVICE_PORT') };
  const kube: KubeConnectionConfig =
    kubeconfigFlag !== ''
      ? { kubeconfig: kubeconfigFlag, source: 'flag', ...service }
      : kubeconfigEnv !== undefined
        ? { kubeconfig: kubeconfigEnv, source: 'env', ...service }
        : { kubeconfig: undefined, source: 'in-cluster', ...service };

  // --- watch scope ------------------------------------------------------------
  const flagNamespaces = unique(f.list('namespaces').map((ns) => checked('namespaces', ns, checkNamespace)));
  const kubernetesNamespace = envValue(env, 'KUBERNETES_NAMESPACE');
  let watchNamespaces: string[] = [];
  let namespacesFrom: WatchConfig['namespacesFrom'];
  if (flagNamespaces.length > 0) {
    watchNamespaces = flagNamespaces;
    namespacesFrom = '--namespaces';
  } else if (kubernetesNamespace !== undefined) {
    watchNamespaces = [envChecked('KUBERNETES_NAMESPACE', kubernetesNamespace, checkNamespace)];
    namespacesFrom = 'KUBERNETES_NAMESPACE';
  }
  const allNamespaces = namespacesFrom === undefined;

  let namespacesToIgnore = unique(f.list('namespaces-to-ignore').map((ns) => checked('namespaces-to-ignore', ns, checkNamespace)));
  const nsSelectorItems = f.list('namespace-selector');
  let namespaceSelector = checked('namespace-selector', nsSelectorItems.join(','), () => buildLabelSelector(nsSelectorItems));
  const resSelectorItems = f.list('resource-label-selector');
  const resourceLabelSelector = checked('resource-label-selector', resSelectorItems.join(','), () =>
    buildLabelSelector(resSelectorItems),
  );
  if (!allNamespaces) {
    // Reloader honours these two only when it watches every namespace.
    const scope = namespacesFrom === '--namespaces' ? '--namespaces is set' : 'KUBERNETES_NAMESPACE is set';
    if (namespacesToIgnore.length > 0) {
      warnings.push(`flag --namespaces-to-ignore is honoured only when watching all namespaces (${scope}); ignoring it`);
      namespacesToIgnore = [];
    }
    if (namespaceSelector !== '') {
      warnings.push(`flag --namespace-selector is honoured only when watching all namespaces (${scope}); ignoring it`);
      namespaceSelector = '';
    }
  }

  const ignoredResources = unique(
    f.list('resources-to-ignore').map((item) =>
      checked('resources-to-ignore', item, (v) => {
        const lower = v.toLowerCase();
        if (lower !== 'configmaps' && lower !== 'secrets') throw new Error('must be configmaps or secrets');
        return lower;
      }),
    ),
  );
  if (ignoredResources.length > 1) {
    badFlag('resources-to-ignore', f.list('resources-to-ignore').join(','), 'cannot ignore both configmaps and secrets');
  }
  const resourceKinds: ResourceKind[] = [];
  if (!ignoredResources.includes('configmaps')) resourceKinds.push('ConfigMap');
  if (!ignoredResources.includes('secrets')) resourceKinds.push('Secret');

  // --- policy -------------------------------------------------------------------
  const argoRollouts = f.bool('is-Argo-Rollouts');
  const ignoredWorkloadTypes = unique(
    f.list('ignored-workload-types').map((item) =>
      checked('ignored-workload-types', item, (v) => {
        const lower = v.toLowerCase() as IgnorableWorkloadType;
        if (!IGNORABLE_WORKLOAD_TYPES.includes(lower)) {
          throw new Error(`must be one of ${IGNORABLE_WORKLOAD_TYPES.join(', ')}`);
        }
        return lower;
      }),
    ),
  );
  const candidateKinds: [WorkloadKind, IgnorableWorkloadType, boolean][] = [
    ['Deployment', 'deployments', true],
    ['StatefulSet', 'statefulsets', true],
    ['DaemonSet', 'daemonsets', true],
    ['Rollout', 'rollouts', argoRollouts],
    ['CronJob', 'cronjobs', true],
    ['Job', 'jobs', true],
  ];
  const workloadKinds = candidateKinds
    .filter(([, type, enabled]) => enabled && !ignoredWorkloadTypes.includes(type))
    .map(([kind]) => kind);

  // --- reload -------------------------------------------------------------------
  const strategy = checked('reload-strategy', f.string('reload-strategy'), (v): ReloadStrategy => {
    if (v !== 'env-vars' && v !== 'annotations') throw new Error('must be env-vars or annotations');
    return v;
  });
  const webhookUrlRaw = f.string('webhook-url').trim();
  const webhookUrl = webhookUrlRaw === '' ? undefined : checked('webhook-url', webhookUrlRaw, checkHttpUrl);
  const reload: ReloadConfig = {
    strategy,
    onCreate: f.bool('reload-on-create'),
    onDelete: f.bool('reload-on-delete'),
    webhookUrl,
    debounceMs: f.duration('debounce'),
    minReloadIntervalMs: f.duration('min-reload-interval'),
    maxReloadsPerSecond: checked('max-reloads-per-second', f.string('max-reloads-per-second'), parseRate),
  };

  // --- annotations ------------------------------------------------------------
  const annotations = defaultAnnotationNames();
  const annotationFlags: [keyof AnnotationNames, string][] = [
    ['auto', 'auto-annotation'],
    ['configmapAuto', 'configmap-auto-annotation'],
    ['secretAuto', 'secret-auto-annotation'],
    ['configmapReload', 'configmap-annotation'],
    ['secretReload', 'secret-annotation'],
    ['ignore', 'ignore-annotation'],
    ['search', 'auto-search-annotation'],
    ['match', 'search-match-annotation'],
    ['pausePeriod', 'pause-deployment-annotation'],
    ['pausedAt', 'pause-deployment-time-annotation'],
  ];
  for (const [key, flag] of annotationFlags) {
    annotations[key] = checked(flag, f.string(flag), checkAnnotationKey);
  }

  // --- leader election ------------------------------------------------------------
  const leaseDurationMs = f.duration('leader-election-lease-duration');
  const renewDeadlineMs = f.duration('leader-election-renew-deadline');
  const retryPeriodMs = f.duration('leader-election-retry-period');
  if (retryPeriodMs <= 0) {
    badFlag('leader-election-retry-period', f.string('leader-election-retry-period'), 'must be greater than 0');
  }
  if (renewDeadlineMs <= retryPeriodMs * LEADER_JITTER) {
    badFlag(
      'leader-election-renew-deadline',
      f.string('leader-election-renew-deadline'),
      `must be greater than ${LEADER_JITTER} x --leader-election-retry-period (${formatDuration(retryPeriodMs)})`,
    );
  }
  if (leaseDurationMs <= renewDeadlineMs) {
    badFlag(
      'leader-election-lease-duration',
      f.string('leader-election-lease-duration'),
      `must be greater than --leader-election-renew-deadline (${formatDuration(renewDeadlineMs)})`,
    );
  }

  // --- logging --------------------------------------------------------------------
  const level = checked('log-level', f.string('log-level'), (v) => {
    const mapped = LOG_LEVELS[v.toLowerCase()];
    if (mapped === undefined) throw new Error('must be one of trace, debug, info, warn, warning, error, fatal, panic');
    return mapped;
  });
  const format = checked('log-format', f.string('log-format'), (v): '' | 'json' => {
    const lower = v.toLowerCase();
    if (lower !== '' && lower !== 'json') throw new Error('must be "" or json (logs are always structured JSON)');
    return lower;
  });

  // --- compatibility flags ----------------------------------------------------------
  const compat: CompatConfig = {
    syncAfterRestart: f.bool('sync-after-restart'),
    enablePprof: f.bool('enable-pprof'),
    pprofAddr: checked('pprof-addr', f.string('pprof-addr'), parseHostPort),
    enableCsiIntegration: f.bool('enable-csi-integration'),
  };
  if (compat.enablePprof) warnings.push('flag --enable-pprof is accepted but not built yet; no pprof server is started');
  if (f.given('pprof-addr')) warnings.push('flag --pprof-addr is accepted but not built yet; ignoring it');
  if (compat.enableCsiIntegration) {
    warnings.push('flag --enable-csi-integration is accepted but not built yet; SecretProviderClassPodStatus objects are not watched');
  }

  // --- alerts (environment only, as Reloader) -------------------------------------
  const alertOnReload = envValue(env, 'ALERT_ON_RELOAD');
  const alertsEnabled = alertOnReload === undefined ? false : envChecked('ALERT_ON_RELOAD', alertOnReload, parseGoBool);
  const sinkRaw = envValue(env, 'ALERT_SINK')?.toLowerCase() ?? 'raw';
  let sink: AlertSink = 'raw';
  if ((ALERT_SINKS as readonly string[]).includes(sinkRaw)) {
    sink = sinkRaw as AlertSink;
  } else if (alertsEnabled) {
    warnings.push(`ALERT_SINK ${JSON.stringify(sinkRaw)} is not one of ${ALERT_SINKS.join(', ')}; sending raw alerts`);
  }
  const alertUrl = envValue(env, 'ALERT_WEBHOOK_URL');
  if (alertsEnabled && alertUrl === undefined) {
    warnings.push('ALERT_ON_RELOAD is true but ALERT_WEBHOOK_URL is not set; no alert will be sent');
  }
  const alerts: AlertsConfig = {
    enabled: alertsEnabled,
    sink,
    webhookUrl: alertsEnabled && alertUrl !== undefined ? envChecked('ALERT_WEBHOOK_URL', alertUrl, checkHttpUrl) : alertUrl,
    proxy: envValue(env, 'ALERT_WEBHOOK_PROXY'),
    // Reloader prefixes the info whenever the variable exists, even if empty.
    additionalInfo: env['ALERT_ADDITIONAL_INFO']?.trim(),
  };

  return {
    server: { port, bindAddress },
    tls: {
      mode: certDir === undefined ? 'self-managed' : 'provided',
      certDir,
      certFile: certDir === undefined ? undefined : join(certDir, 'tls.crt'),
      keyFile: certDir === undefined ? undefined : join(certDir, 'tls.key'),
      secretName,
      checkIntervalMs: certCheckIntervalMs,
      serviceName,
      webhookConfigName,
      sans: { dnsNames, ipAddresses },
    },
    kube,
    identity: { namespace, namespaceSource, podName },
    watch: {
      allNamespaces,
      namespaces: watchNamespaces,
      namespacesFrom,
      namespacesToIgnore,
      namespaceSelector,
      resourceLabelSelector,
      resourceKinds,
      includeHelmSecrets: f.bool('include-helm-secrets'),
      resyncPeriodMs: f.duration('resync-period'),
    },
    annotations,
    policy: {
      autoReloadAll: f.bool('auto-reload-all'),
      argoRollouts,
      ignoredWorkloadTypes,
      workloadKinds,
    },
    reload,
    webhook: { waitMs },
    leaderElection: {
      enabled: f.bool('enable-ha'),
      identity: podName,
      namespace,
      leaseName: `${serviceName}-leader`,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    },
    alerts,
    logging: { level, format },
    metrics: { countByNamespace: envValue(env, 'METRICS_COUNT_BY_NAMESPACE') === 'enabled' },
    compat,
    warnings,
  };
}

/** Run `check(value)` on an environment variable, turning a thrown Error into a ConfigError naming it. */
function envChecked<T>(name: string, value: string, check: (v: string) => T): T {
  try {
    return check(value);
  } catch (e) {
    return badEnv(name, value, reasonOf(e));
  }
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/**
 * The configuration with every default and an empty environment: the same
 * as `parseConfig([], {})` (host name from the OS). A fresh object each call,
 * so tests may modify it.
 */
export function defaultConfig(host: ConfigHost = DEFAULT_HOST): Config {
  return parseConfig([], {}, host);
}
