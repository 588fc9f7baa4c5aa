/**
 * The flag table (single source of truth for parsing, defaults and `--help`),
 * the argv tokenizer, and the help text.
 *
 * Syntax, as Go's flag/pflag packages accept it (Reloader is built on pflag):
 * `--flag value`, `--flag=value`, `-flag value`, `-flag=value`; booleans
 * `--flag`, `--flag=true|false` (any Go `strconv.ParseBool` literal); `--`
 * ends the flags. List flags take comma lists and may be repeated (the items
 * add up); for other flags the last occurrence wins.
 */
import * as A from './annotations.ts';
import { ConfigError } from './errors.ts';
import { isGoBool, parseGoBool } from './values.ts';

/** How a flag's value is read. */
export type FlagType = 'bool' | 'string' | 'list' | 'duration' | 'int' | 'number';

/** One row of the flag table. */
export interface FlagSpec {
  /** Name without dashes, exactly as typed after `--`. */
  readonly name: string;
  readonly type: FlagType;
  /** Default in command-line syntax; parsed by the same code as user input. */
  readonly default: string;
  /** Shown instead of `default` in `--help` when the default comes from the environment. */
  readonly defaultText?: string;
  /** Placeholder for the value in `--help` (defaults to the type). */
  readonly metavar?: string;
  /** `--help` section. */
  readonly group: string;
  /** One line for `--help`. */
  readonly description: string;
  /** True for a flag of stakater/Reloader v1.4 (accepted with its meaning and default). */
  readonly reloader?: boolean;
  /** Other spellings accepted (e.g. `h` for `help`). */
  readonly aliases?: readonly string[];
}

const G_SCOPE = 'Kubernetes and watch scope';
const G_POLICY = 'Reload policy';
const G_PACING = 'Reload pacing';
const G_ANNOTATIONS = 'Annotation names';
const G_SERVER = 'HTTPS server and admission webhook';
const G_CERTS = 'Certificates (provided mode with --cert-dir, else self-managed)';
const G_LEADER = 'Leader election';
const G_LOG = 'Logging';
const G_UNBUILT = 'Accepted for compatibility, not built yet (a warning is logged)';
const G_HELP = 'Help';

/** Every flag config-reloader accepts, in `--help` order. */
export const FLAGS: readonly FlagSpec[] = [
  // Kubernetes and watch scope
  { name: 'kubeconfig', type: 'string', default: '', defaultText: '$KUBECONFIG, else in-cluster', metavar: 'PATH', group: G_SCOPE, description: 'kubeconfig file to connect with' },
  { name: 'namespaces', type: 'list', default: '', defaultText: '$KUBERNETES_NAMESPACE, else all namespaces', metavar: 'a,b', group: G_SCOPE, reloader: true, description: 'watch only these namespaces (overrides $KUBERNETES_NAMESPACE)' },
  { name: 'namespaces-to-ignore', type: 'list', default: '', metavar: 'a,b', group: G_SCOPE, reloader: true, description: 'namespaces never watched (honoured only when watching all namespaces)' },
  { name: 'namespace-selector', type: 'list', default: '', metavar: 'selector', group: G_SCOPE, reloader: true, description: 'label selector namespaces must match, e.g. team=a or team:* (honoured only when watching all namespaces)' },
  { name: 'resource-label-selector', type: 'list', default: '', metavar: 'selector', group: G_SCOPE, reloader: true, description: 'label selector ConfigMaps and Secrets must match, e.g. reload=true' },
  { name: 'resources-to-ignore', type: 'list', default: '', metavar: 'kind', group: G_SCOPE, reloader: true, description: 'do not watch this kind: configmaps or secrets (not both)' },
  { name: 'include-helm-secrets', type: 'bool', default: 'false', group: G_SCOPE, description: 'also watch Helm release Secrets (type helm.sh/release.v1)' },
  { name: 'resync-period', type: 'duration', default: '5m', group: G_SCOPE, description: 'periodic reconcile of every workload; 0 turns it off' },

  // Reload policy
  { name: 'reload-strategy', type: 'string', default: 'env-vars', metavar: 'env-vars|annotations', group: G_POLICY, reloader: true, description: 'where the hash goes: a STAKATER_* env var or the last-reloaded-from pod template annotation' },
  { name: 'auto-reload-all', type: 'bool', default: 'false', group: G_POLICY, reloader: true, description: 'treat every workload as annotated reloader.stakater.com/auto: "true"' },
  { name: 'ignored-workload-types', type: 'list', default: '', metavar: 'types', group: G_POLICY, reloader: true, description: 'workload types never reloaded: jobs, cronjobs (also deployments, statefulsets, daemonsets, rollouts)' },
  { name: 'is-Argo-Rollouts', type: 'bool', default: 'false', group: G_POLICY, reloader: true, aliases: ['is-argo-rollouts'], description: 'also reload Argo Rollouts' },
  { name: 'reload-on-create', type: 'bool', default: 'false', group: G_POLICY, reloader: true, description: 'reload when a referenced ConfigMap or Secret is created' },
  { name: 'reload-on-delete', type: 'bool', default: 'false', group: G_POLICY, reloader: true, description: 'reload when a referenced ConfigMap or Secret is deleted' },
  { name: 'sync-after-restart', type: 'bool', default: 'false', group: G_POLICY, reloader: true, description: 'accepted; has no effect (reconcile is level-triggered, changes made while down are always caught up)' },
  { name: 'webhook-url', type: 'string', default: '', metavar: 'URL', group: G_POLICY, reloader: true, description: 'POST to this URL instead of patching workloads' },

  // Reload pacing
  { name: 'debounce', type: 'duration', default: '1s', group: G_PACING, description: 'changes to one workload\'s resources within this window give one rollout; 0 turns it off' },
  { name: 'min-reload-interval', type: 'duration', default: '10s', group: G_PACING, description: 'minimum time between two reloads of one workload; 0 turns it off' },
  { name: 'max-reloads-per-second', type: 'number', default: '10', group: G_PACING, description: 'global limit on reloads per second (fractions allowed); 0 turns it off' },

  // Annotation names (Reloader)
  { name: 'auto-annotation', type: 'string', default: A.AUTO_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation: reload on any referenced ConfigMap or Secret' },
  { name: 'configmap-auto-annotation', type: 'string', default: A.CONFIGMAP_AUTO_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation: reload on any referenced ConfigMap' },
  { name: 'secret-auto-annotation', type: 'string', default: A.SECRET_AUTO_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation: reload on any referenced Secret' },
  { name: 'configmap-annotation', type: 'string', default: A.CONFIGMAP_RELOAD_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation: reload on the named ConfigMaps (comma list of regexes)' },
  { name: 'secret-annotation', type: 'string', default: A.SECRET_RELOAD_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation: reload on the named Secrets (comma list of regexes)' },
  { name: 'ignore-annotation', type: 'string', default: A.IGNORE_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation on a ConfigMap or Secret: never reload for it' },
  { name: 'auto-search-annotation', type: 'string', default: A.SEARCH_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation: reload on resources carrying the match annotation' },
  { name: 'search-match-annotation', type: 'string', default: A.MATCH_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation on a ConfigMap or Secret: found by the search annotation' },
  { name: 'pause-deployment-annotation', type: 'string', default: A.PAUSE_PERIOD_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation: pause a Deployment for this period after a reload' },
  { name: 'pause-deployment-time-annotation', type: 'string', default: A.PAUSED_AT_ANNOTATION, metavar: 'key', group: G_ANNOTATIONS, reloader: true, description: 'annotation written with the time a Deployment was paused' },

  // Server and webhook
  { name: 'port', type: 'int', default: '8443', group: G_SERVER, description: 'HTTPS port for /mutate, /healthz, /live, /readyz and /metrics (1-65535)' },
  { name: 'bind-address', type: 'string', default: '0.0.0.0', metavar: 'address', group: G_SERVER, description: 'address the HTTPS server listens on (use :: for IPv6)' },
  { name: 'webhook-wait', type: 'duration', default: '1s', group: G_SERVER, description: 'how long an admission waits for an owner or resource missing from the caches (below 5s)' },

  // Certificates
  { name: 'cert-dir', type: 'string', default: '', defaultText: 'none: self-managed mode', metavar: 'DIR', group: G_CERTS, description: 'provided mode: read tls.crt and tls.key from DIR (re-read when they change)' },
  { name: 'cert-check-interval', type: 'duration', default: '1m', group: G_CERTS, description: 'self-managed mode: how often every replica re-reads the certificate Secret (the leader also renews and re-injects the caBundle)' },
  { name: 'cert-secret', type: 'string', default: 'config-reloader-certs', metavar: 'name', group: G_CERTS, description: 'self-managed mode: Secret holding the CA and the serving certificate' },
  { name: 'service-name', type: 'string', default: 'config-reloader', metavar: 'name', group: G_CERTS, description: 'Service of the webhook, named in the certificate\'s subjectAltName' },
  { name: 'namespace', type: 'string', default: '', defaultText: '$POD_NAMESPACE, else $RELOADER_NAMESPACE, else "config-reloader"', metavar: 'name', group: G_CERTS, description: 'own namespace: certificate Secret, Lease, Service' },
  { name: 'tls-san', type: 'list', default: '', metavar: 'name|IP', group: G_CERTS, description: 'extra subjectAltName, DNS name or IP address (repeatable, or comma list)' },
  { name: 'webhook-config-name', type: 'string', default: 'config-reloader', metavar: 'name', group: G_CERTS, description: 'MutatingWebhookConfiguration that receives the CA bundle' },

  // Leader election
  { name: 'enable-ha', type: 'bool', default: 'false', group: G_LEADER, reloader: true, description: 'run several replicas: only the Lease holder patches workloads' },
  { name: 'leader-election-lease-duration', type: 'duration', default: '15s', group: G_LEADER, description: 'how long a Lease is valid without renewal (greater than the renew deadline)' },
  { name: 'leader-election-renew-deadline', type: 'duration', default: '10s', group: G_LEADER, description: 'how long the leader keeps trying to renew before giving up (greater than 1.2 x retry period)' },
  { name: 'leader-election-retry-period', type: 'duration', default: '2s', group: G_LEADER, description: 'how often a replica tries to acquire or renew the Lease' },

  // Logging
  { name: 'log-format', type: 'string', default: '', metavar: 'json', group: G_LOG, reloader: true, description: 'accepted for compatibility, "" or json: logs are always structured JSON' },
  { name: 'log-level', type: 'string', default: 'info', metavar: 'level', group: G_LOG, reloader: true, description: 'trace, debug, info, warn(ing), error, fatal or panic' },

  // Accepted, not built yet
  { name: 'enable-pprof', type: 'bool', default: 'false', group: G_UNBUILT, reloader: true, description: 'Reloader\'s pprof profiling server' },
  { name: 'pprof-addr', type: 'string', default: ':6060', metavar: 'host:port', group: G_UNBUILT, reloader: true, description: 'address of the pprof server' },
  { name: 'enable-csi-integration', type: 'bool', default: 'false', group: G_UNBUILT, reloader: true, description: 'watch Secrets Store CSI driver SecretProviderClassPodStatus' },

  // Help
  { name: 'help', type: 'bool', default: 'false', group: G_HELP, aliases: ['h'], description: 'print this help and exit' },
];

const BY_NAME: ReadonlyMap<string, FlagSpec> = new Map(
  FLAGS.flatMap((spec) => [spec.name, ...(spec.aliases ?? [])].map((n) => [n, spec] as const)),
);

/** Look a flag up by name or alias (no dashes). */
export function findFlag(name: string): FlagSpec | undefined {
  return BY_NAME.get(name);
}

/** The flag named `name`; throws if the table has no such flag (a programming error). */
export function flagSpec(name: string): FlagSpec {
  const spec = BY_NAME.get(name);
  if (spec === undefined) throw new Error(`no flag named ${name} in the flag table`);
  return spec;
}

/** Raw flag values from argv: every occurrence, in order, by canonical name. */
export type RawFlags = ReadonlyMap<string, readonly string[]>;

interface Token {
  spec: FlagSpec;
  value: string;
}

/**
 * Walk argv, calling `onToken` for each flag with its raw value, and
 * `onError` for each problem (unknown flag, missing value, positional
 * argument). Shared by the strict parser and by {@link isHelp}.
 */
function scan(argv: readonly string[], onToken: (t: Token) => void, onError: (e: ConfigError) => void): void {
  let flagsEnded = false;
  const rest = [...argv];
  while (rest.length > 0) {
    const arg = rest.shift() as string;
    if (flagsEnded || !arg.startsWith('-') || arg === '-') {
      onError(new ConfigError(arg, `unexpected argument ${JSON.stringify(arg)}: config-reloader takes flags only`));
      continue;
    }
    if (arg === '--') {
      flagsEnded = true;
      continue;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const spec = findFlag(name);
    if (spec === undefined) {
      const shown = eq >= 0 ? arg.slice(0, arg.indexOf('=')) : arg;
      onError(new ConfigError(shown, `unknown flag: ${shown} (run with --help to list the flags)`));
      continue;
    }
    if (inline !== undefined) {
      onToken({ spec, value: inline });
    } else if (spec.type === 'bool') {
      // Reloader declares --is-Argo-Rollouts, --reload-on-create and
      // --reload-on-delete as string flags, so `--reload-on-create true` (two
      // arguments) is valid there: take a following boolean literal as the value.
      const next = rest[0];
      if (next !== undefined && isGoBool(next)) {
        onToken({ spec, value: next });
        rest.shift();
      } else {
        onToken({ spec, value: 'true' });
      }
    } else if (rest.length > 0) {
      onToken({ spec, value: rest.shift() as string });
    } else {
      onError(new ConfigError(`--${spec.name}`, `flag needs an argument: --${spec.name}`));
    }
  }
}

/**
 * Tokenize argv into raw values per flag (canonical name → every value given,
 * in order). Values are not checked here.
 *
 * @throws ConfigError for an unknown flag, a value-taking flag without a
 *   value, or a positional argument.
 */
export function scanArgv(argv: readonly string[]): RawFlags {
  const values = new Map<string, string[]>();
  scan(
    argv,
    ({ spec, value }) => {
      const list = values.get(spec.name);
      if (list === undefined) values.set(spec.name, [value]);
      else list.push(value);
    },
    (e) => {
      throw e;
    },
  );
  return values;
}

/**
 * True when argv asks for help (`--help`, `-h`, `-help`, `--help=true`).
 * Never throws: unknown flags and bad values are left for the real parse.
 */
export function isHelp(argv: readonly string[]): boolean {
  let help = false;
  scan(
    argv,
    ({ spec, value }) => {
      if (spec.name === 'help') help = isGoBool(value) && parseGoBool(value);
    },
    () => {},
  );
  return help;
}

/** The default as `--help` shows it. */
export function defaultDisplay(spec: FlagSpec): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  switch (spec.type) {
    case 'string':
      return JSON.stringify(spec.default);
    case 'list':
      return `[${spec.default}]`;
    default:
      return spec.default;
  }
}

const TYPE_HINT: Readonly<Record<FlagType, string>> = {
  bool: '',
  string: 'string',
  list: 'strings',
  duration: 'duration',
  int: 'int',
  number: 'number',
};

/** Environment variables read at start-up, for `--help` and the docs. */
export const ENV_VARS: readonly { readonly name: string; readonly description: string }[] = [
  { name: 'KUBERNETES_NAMESPACE', description: 'watch only this namespace (Reloader); --namespaces wins' },
  { name: 'KUBECONFIG', description: 'kubeconfig file when --kubeconfig is not given; else in-cluster' },
  { name: 'POD_NAMESPACE', description: 'own namespace when --namespace is not given' },
  { name: 'RELOADER_NAMESPACE', description: 'own namespace when neither --namespace nor POD_NAMESPACE is set (Reloader\'s chart sets it)' },
  { name: 'POD_NAME', description: 'leader election identity (else HOSTNAME, else the host name)' },
  { name: 'ALERT_ON_RELOAD', description: 'true: send an alert for every reload (Reloader)' },
  { name: 'ALERT_SINK', description: 'slack, teams, gchat or raw (default raw: JSON {"text": …}) (Reloader)' },
  { name: 'ALERT_WEBHOOK_URL', description: 'where alerts are sent (Reloader)' },
  { name: 'ALERT_WEBHOOK_PROXY', description: 'HTTP proxy for alerts (Reloader)' },
  { name: 'ALERT_ADDITIONAL_INFO', description: 'text prefixed to every alert, e.g. the cluster name (Reloader)' },
  { name: 'METRICS_COUNT_BY_NAMESPACE', description: 'enabled: also count reloads per namespace (Reloader)' },
];

/** The `--help` text: every flag with its type, one-line description and default. */
export function helpText(): string {
  const lines: string[] = [
    'Usage: config-reloader [flags]',
    '',
    'Restarts Deployments, StatefulSets and DaemonSets (and, behind flags, Argo Rollouts,',
    'CronJobs and Jobs) when the ConfigMaps and Secrets they use change; a drop-in for',
    'stakater/Reloader plus an admission webhook that stamps new pods with the hash of',
    'their configuration.',
    '',
    'Flags take --flag value, --flag=value or a single dash (-flag). Booleans take --flag',
    'or --flag=true|false. Lists take comma-separated items and may be repeated.',
    'Durations use Go syntax: 500ms, 2s, 5m, 1h30m.',
  ];
  let group = '';
  for (const spec of FLAGS) {
    if (spec.group !== group) {
      group = spec.group;
      lines.push('', `${group}:`);
    }
    const hint = spec.metavar ?? TYPE_HINT[spec.type];
    const names = [spec.name, ...(spec.aliases ?? [])]
      .map((n) => (n.length === 1 ? `-${n}` : `--${n}`))
      .join(', ');
    const left = `  ${names}${hint === '' ? '' : ` ${hint}`}`;
    const pad = ' '.repeat(Math.max(2, 46 - left.length));
    lines.push(`${left}${pad}${spec.description} (default ${defaultDisplay(spec)})`);
  }
  lines.push('', 'Environment:');
  for (const env of ENV_VARS) {
    lines.push(`  ${env.name.padEnd(44)}${env.description}`);
  }
  return `${lines.join('\n')}\n`;
}
