import t, { type Test } from 'tap';
import {
  AUTO_ANNOTATION,
  ConfigError,
  DEFAULT_NAMESPACE,
  ENV_VARS,
  FLAGS,
  defaultConfig,
  helpText,
  isHelp,
  parseConfig,
  type Config,
} from '../../src/config/index.ts';
import { defaultDisplay, findFlag, flagSpec, scanArgv } from '../../src/config/flags.ts';

const host = { hostname: (): string => 'test-host' };
const parse = (argv: string[], env: Record<string, string | undefined> = {}): Config => parseConfig(argv, env, host);
const DEFAULTS = parse([]);

/** Assert that parsing throws a ConfigError whose .flag is `flag` and whose message names it. */
function throwsFor(tt: Test, argv: string[], flag: string, env: Record<string, string | undefined> = {}, match?: RegExp): void {
  try {
    parse(argv, env);
    tt.fail(`expected a ConfigError for ${flag} from ${JSON.stringify(argv)}`);
  } catch (e) {
    tt.ok(e instanceof ConfigError, `ConfigError for ${JSON.stringify(argv)}`);
    const err = e as ConfigError;
    tt.equal(err.flag, flag, `.flag of ${JSON.stringify(argv)}`);
    tt.ok(err.message.includes(flag), `message names ${flag}: ${err.message}`);
    if (match !== undefined) tt.match(err.message, match);
  }
}

t.test('defaults', async (t) => {
  const c = DEFAULTS;
  t.same(c.server, { port: 8443, bindAddress: '0.0.0.0' });
  t.same(c.tls, {
    mode: 'self-managed',
    certDir: undefined,
    certFile: undefined,
    keyFile: undefined,
    secretName: 'config-reloader-certs',
    checkIntervalMs: 60_000,
    serviceName: 'config-reloader',
    webhookConfigName: 'config-reloader',
    sans: {
      dnsNames: [
        'config-reloader',
        'config-reloader.config-reloader',
        'config-reloader.config-reloader.svc',
        'config-reloader.config-reloader.svc.cluster.local',
      ],
      ipAddresses: [],
    },
  });
  t.same(c.kube, { kubeconfig: undefined, source: 'in-cluster' });
  t.same(c.identity, { namespace: DEFAULT_NAMESPACE, namespaceSource: 'default', podName: 'test-host' });
  t.same(c.watch, {
    allNamespaces: true,
    namespaces: [],
    namespacesFrom: undefined,
    namespacesToIgnore: [],
    namespaceSelector: '',
    resourceLabelSelector: '',
    resourceKinds: ['ConfigMap', 'Secret'],
    includeHelmSecrets: false,
    resyncPeriodMs: 300_000,
  });
  t.equal(c.annotations.auto, AUTO_ANNOTATION);
  t.same(c.policy, {
    autoReloadAll: false,
    argoRollouts: false,
    ignoredWorkloadTypes: [],
    workloadKinds: ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job'],
  });
  t.same(c.reload, {
    strategy: 'env-vars',
    onCreate: false,
    onDelete: false,
    webhookUrl: undefined,
    debounceMs: 1000,
    minReloadIntervalMs: 10_000,
    maxReloadsPerSecond: 10,
  });
  t.same(c.webhook, { waitMs: 1000 });
  t.same(c.leaderElection, {
    enabled: false,
    identity: 'test-host',
    namespace: 'config-reloader',
    leaseName: 'config-reloader-leader',
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
  });
  t.same(c.alerts, { enabled: false, sink: 'raw', webhookUrl: undefined, proxy: undefined, additionalInfo: undefined });
  t.same(c.logging, { level: 'info', format: '' });
  t.same(c.metrics, { countByNamespace: false });
  t.same(c.compat, { syncAfterRestart: false, enablePprof: false, pprofAddr: ':6060', enableCsiIntegration: false });
  t.same(c.warnings, []);

  t.same(defaultConfig(host), DEFAULTS, 'defaultConfig() is parseConfig([], {})');
  t.not(defaultConfig(host), defaultConfig(host), 'a fresh object each call');
  t.type(defaultConfig().identity.podName, 'string', 'host name from the OS by default');
});

/**
 * One non-default sample value per flag, where it lands, and what it becomes.
 * Derived checks below require this table to cover FLAGS exactly.
 */
const SAMPLES: Record<string, [string, (c: Config) => unknown, unknown]> = {
  kubeconfig: ['/tmp/kc', (c) => c.kube, { kubeconfig: '/tmp/kc', source: 'flag' }],
  namespaces: ['a, b', (c) => [c.watch.namespaces, c.watch.allNamespaces], [['a', 'b'], false]],
  'namespaces-to-ignore': ['kube-system,x', (c) => c.watch.namespacesToIgnore, ['kube-system', 'x']],
  'namespace-selector': ['team:a', (c) => c.watch.namespaceSelector, 'team=a'],
  'resource-label-selector': ['reload=true', (c) => c.watch.resourceLabelSelector, 'reload=true'],
  'resources-to-ignore': ['configMaps', (c) => c.watch.resourceKinds, ['Secret']],
  'include-helm-secrets': ['true', (c) => c.watch.includeHelmSecrets, true],
  'resync-period': ['1h30m', (c) => c.watch.resyncPeriodMs, 5_400_000],
  'reload-strategy': ['annotations', (c) => c.reload.strategy, 'annotations'],
  'auto-reload-all': ['true', (c) => c.policy.autoReloadAll, true],
  'ignored-workload-types': ['jobs,cronjobs', (c) => c.policy.workloadKinds, ['Deployment', 'StatefulSet', 'DaemonSet']],
  'is-Argo-Rollouts': ['true', (c) => c.policy.workloadKinds.includes('Rollout'), true],
  'reload-on-create': ['true', (c) => c.reload.onCreate, true],
  'reload-on-delete': ['true', (c) => c.reload.onDelete, true],
  'sync-after-restart': ['true', (c) => c.compat.syncAfterRestart, true],
  'webhook-url': ['https://hooks.example.com/x', (c) => c.reload.webhookUrl, 'https://hooks.example.com/x'],
  debounce: ['500ms', (c) => c.reload.debounceMs, 500],
  'min-reload-interval': ['0', (c) => c.reload.minReloadIntervalMs, 0],
  'max-reloads-per-second': ['2.5', (c) => c.reload.maxReloadsPerSecond, 2.5],
  'auto-annotation': ['example.com/auto', (c) => c.annotations.auto, 'example.com/auto'],
  'configmap-auto-annotation': ['example.com/cm-auto', (c) => c.annotations.configmapAuto, 'example.com/cm-auto'],
  'secret-auto-annotation': ['example.com/s-auto', (c) => c.annotations.secretAuto, 'example.com/s-auto'],
  'configmap-annotation': ['example.com/cm', (c) => c.annotations.configmapReload, 'example.com/cm'],
  'secret-annotation': ['example.com/s', (c) => c.annotations.secretReload, 'example.com/s'],
  'ignore-annotation': ['example.com/ignore', (c) => c.annotations.ignore, 'example.com/ignore'],
  'auto-search-annotation': ['example.com/search', (c) => c.annotations.search, 'example.com/search'],
  'search-match-annotation': ['example.com/match', (c) => c.annotations.match, 'example.com/match'],
  'pause-deployment-annotation': ['example.com/pause', (c) => c.annotations.pausePeriod, 'example.com/pause'],
  'pause-deployment-time-annotation': ['example.com/paused', (c) => c.annotations.pausedAt, 'example.com/paused'],
  port: ['9443', (c) => c.server.port, 9443],
  'bind-address': ['::', (c) => c.server.bindAddress, '::'],
  'webhook-wait': ['250ms', (c) => c.webhook.waitMs, 250],
  'cert-dir': ['/certs', (c) => [c.tls.mode, c.tls.certFile, c.tls.keyFile], ['provided', '/certs/tls.crt', '/certs/tls.key']],
  'cert-secret': ['my-certs', (c) => c.tls.secretName, 'my-certs'],
  'cert-check-interval': ['5s', (c) => c.tls.checkIntervalMs, 5000],
  'service-name': ['hook', (c) => [c.tls.serviceName, c.leaderElection.leaseName], ['hook', 'hook-leader']],
  namespace: ['ops', (c) => [c.identity.namespace, c.identity.namespaceSource, c.leaderElection.namespace], ['ops', 'flag', 'ops']],
  'tls-san': ['10.0.0.1', (c) => c.tls.sans.ipAddresses, ['10.0.0.1']],
  'webhook-config-name': ['my-hook', (c) => c.tls.webhookConfigName, 'my-hook'],
  'enable-ha': ['true', (c) => c.leaderElection.enabled, true],
  'leader-election-lease-duration': ['20s', (c) => c.leaderElection.leaseDurationMs, 20_000],
  'leader-election-renew-deadline': ['12s', (c) => c.leaderElection.renewDeadlineMs, 12_000],
  'leader-election-retry-period': ['3s', (c) => c.leaderElection.retryPeriodMs, 3_000],
  'log-format': ['json', (c) => c.logging.format, 'json'],
  'log-level': ['debug', (c) => c.logging.level, 'debug'],
  'enable-pprof': ['true', (c) => c.compat.enablePprof, true],
  'pprof-addr': ['127.0.0.1:7070', (c) => c.compat.pprofAddr, '127.0.0.1:7070'],
  'enable-csi-integration': ['true', (c) => c.compat.enableCsiIntegration, true],
};

t.test('every flag parses in every form to the same, non-default value', async (t) => {
  const names = FLAGS.map((f) => f.name).filter((n) => n !== 'help');
  t.same(Object.keys(SAMPLES).sort(), [...names].sort(), 'SAMPLES covers every flag of the table');
  for (const [name, [value, get, expected]] of Object.entries(SAMPLES)) {
    const forms = [[`--${name}=${value}`], [`--${name}`, value], [`-${name}=${value}`], [`-${name}`, value]];
    const configs = forms.map((argv) => parse(argv));
    for (const [i, c] of configs.entries()) {
      t.same(get(c), expected, `${forms[i]?.join(' ')}`);
      t.same(c, configs[0], `${forms[i]?.join(' ')} equals the --flag=value form`);
    }
    t.notSame(get(DEFAULTS), expected, `--${name} sample differs from its default`);
  }
});

t.test('booleans', async (t) => {
  const bools = FLAGS.filter((f) => f.type === 'bool' && f.name !== 'help');
  t.equal(bools.length, 9);
  for (const spec of bools) {
    const n = spec.name;
    const on = parse([`--${n}`]);
    const off = parse([`--${n}=false`]);
    t.same(on, parse([`--${n}=true`]), `--${n} = --${n}=true`);
    t.same(on, parse([`-${n}`]), `-${n} = --${n}`);
    t.same(off, parse([]), `--${n}=false equals no flag`);
    for (const lit of ['1', 't', 'T', 'TRUE', 'true', 'True']) t.same(parse([`--${n}=${lit}`]), on, `--${n}=${lit}`);
    for (const lit of ['0', 'f', 'F', 'FALSE', 'false', 'False']) t.same(parse([`--${n}=${lit}`]), off, `--${n}=${lit}`);
    // Reloader declares some of these as string flags: `--flag true` (two args) must work.
    t.same(parse([`--${n}`, 'true']), on, `--${n} true`);
    t.same(parse([`--${n}`, 'false']), off, `--${n} false`);
    throwsFor(t, [`--${n}=yes`], `--${n}`, {}, /must be a boolean/);
    throwsFor(t, [`--${n}=`], `--${n}`);
  }
  // A bare boolean does not swallow the next flag.
  const c = parse(['--enable-ha', '--port', '9000']);
  t.equal(c.leaderElection.enabled, true);
  t.equal(c.server.port, 9000);
  t.equal(parse(['--is-argo-rollouts']).policy.argoRollouts, true, 'lowercase alias');
});

t.test('durations', async (t) => {
  const cases: [string, number][] = [
    ['0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['2s', 2000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1m0.25s', 60_250],
    ['1500us', 1.5],
    ['+3s', 3000],
  ];
  for (const [v, ms] of cases) t.equal(parse([`--debounce=${v}`]).reload.debounceMs, ms, v);
  for (const bad of ['-1s', '10', 'abc', '1x', '', 's', '1.2.3s', '1 s', '999999h']) {
    throwsFor(t, [`--resync-period=${bad}`], '--resync-period');
  }
  throwsFor(t, ['--debounce', '-5s'], '--debounce', {}, /negative/);
  throwsFor(t, ['--resync-period=25d'], '--resync-period', {}, /unknown unit/);
  throwsFor(t, ['--resync-period=600h'], '--resync-period', {}, /at most/);
  t.equal(parse(['--resync-period=0']).watch.resyncPeriodMs, 0, 'resync 0 = off');
  t.equal(parse(['--min-reload-interval=0s']).reload.minReloadIntervalMs, 0);

  t.equal(parse(['--webhook-wait=4999ms']).webhook.waitMs, 4999);
  t.equal(parse(['--webhook-wait=0']).webhook.waitMs, 0);
  throwsFor(t, ['--webhook-wait=5s'], '--webhook-wait', {}, /less than 5s/);
});

t.test('max-reloads-per-second', async (t) => {
  t.equal(parse(['--max-reloads-per-second=0']).reload.maxReloadsPerSecond, 0);
  t.equal(parse(['--max-reloads-per-second=0s']).reload.maxReloadsPerSecond, 0, '0s turns it off too');
  t.equal(parse(['--max-reloads-per-second=.5']).reload.maxReloadsPerSecond, 0.5);
  t.equal(parse(['--max-reloads-per-second', '100']).reload.maxReloadsPerSecond, 100);
  for (const bad of ['-1', 'ten', '1s', '1e3', '']) throwsFor(t, [`--max-reloads-per-second=${bad}`], '--max-reloads-per-second');
});

t.test('lists: comma lists, repeats, quoting', async (t) => {
  const c = parse(['--tls-san', 'a.example.com', '--tls-san=10.0.0.1', '--tls-san', ' B.example.com , ::1,,', '--tls-san=a.example.com']);
  t.same(c.tls.sans.ipAddresses, ['10.0.0.1', '::1']);
  t.same(c.tls.sans.dnsNames.slice(4), ['a.example.com', 'b.example.com'], 'lowercased, deduplicated, after the service names');
  t.same(parse(['--tls-san=*.example.com']).tls.sans.dnsNames.slice(4), ['*.example.com'], 'wildcard');
  t.same(parse(['--tls-san=config-reloader']).tls.sans.dnsNames.length, 4, 'a SAN already present is not repeated');
  for (const bad of ['-bad.example', 'under_score.example.com', 'a..b', '10.0.0.256', '1.2.3', '[::1]', 'a'.repeat(64)]) {
    throwsFor(t, [`--tls-san=${bad}`], '--tls-san', {}, /DNS name/);
  }

  t.same(parse(['--namespaces=a', '--namespaces', 'b,c', '--namespaces=a']).watch.namespaces, ['a', 'b', 'c'], 'repeats add up, deduplicated');
  t.same(parse(['--namespaces=', '--namespaces= , ']).watch.allNamespaces, true, 'empty items dropped');
  t.same(parse(['--ignored-workload-types=Jobs', '--ignored-workload-types=jobs']).policy.ignoredWorkloadTypes, ['jobs']);
  t.same(parse(['--namespaces="a","b"']).watch.namespaces, ['a', 'b'], 'CSV quotes stripped');
  throwsFor(t, ['--namespaces="a,b"'], '--namespaces', {}, /"a,b"/);
});

t.test('scalar flags: the last occurrence wins', async (t) => {
  t.equal(parse(['--port=1', '--port', '2']).server.port, 2);
  t.equal(parse(['--enable-ha', '--enable-ha=false']).leaderElection.enabled, false);
});

t.test('watch scope and KUBERNETES_NAMESPACE', async (t) => {
  let c = parse([], { KUBERNETES_NAMESPACE: 'team-a' });
  t.same([c.watch.allNamespaces, c.watch.namespaces, c.watch.namespacesFrom], [false, ['team-a'], 'KUBERNETES_NAMESPACE']);
  c = parse(['--namespaces=x,y'], { KUBERNETES_NAMESPACE: 'team-a' });
  t.same([c.watch.namespaces, c.watch.namespacesFrom], [['x', 'y'], '--namespaces'], 'the flag wins over the env var');
  c = parse(['--namespaces='], { KUBERNETES_NAMESPACE: 'team-a' });
  t.same(c.watch.namespaces, ['team-a'], 'an empty --namespaces falls back to the env var');
  c = parse([], { KUBERNETES_NAMESPACE: '  ' });
  t.equal(c.watch.allNamespaces, true, 'a blank env var is unset');
  throwsFor(t, [], 'KUBERNETES_NAMESPACE', { KUBERNETES_NAMESPACE: 'Bad_NS' }, /namespace name/);
  throwsFor(t, ['--namespaces=ok,Not-OK'], '--namespaces', {}, /namespace name/);
  throwsFor(t, ['--namespaces-to-ignore=a.b'], '--namespaces-to-ignore');

  // Reloader honours these two only in global mode.
  c = parse(['--namespaces-to-ignore=kube-system', '--namespace-selector=team=a'], { KUBERNETES_NAMESPACE: 'x' });
  t.same([c.watch.namespacesToIgnore, c.watch.namespaceSelector], [[], '']);
  t.equal(c.warnings.length, 2);
  t.match(c.warnings[0], /--namespaces-to-ignore.*KUBERNETES_NAMESPACE is set/);
  t.match(c.warnings[1], /--namespace-selector/);
  c = parse(['--namespaces=x', '--namespace-selector=team=a']);
  t.match(c.warnings[0], /--namespace-selector.*--namespaces is set/);
  c = parse(['--namespaces-to-ignore=kube-system', '--namespace-selector=team=a']);
  t.same([c.watch.namespacesToIgnore, c.watch.namespaceSelector, c.warnings], [['kube-system'], 'team=a', []]);
});

t.test('label selectors', async (t) => {
  const sel = (v: string[]): string => parse(v.flatMap((x) => ['--resource-label-selector', x])).watch.resourceLabelSelector;
  t.equal(sel(['a=b', 'c:d']), 'a=b,c=d', 'legacy key:value');
  t.equal(sel(['a:*', 'b=*']), 'a,b', 'wildcards become existence');
  t.equal(sel(['env in (prod, staging),!canary']), 'env in (prod,staging),!canary', 'items are trimmed');
  t.equal(sel(['"team=a,tier=web"']), 'team=a,tier=web', 'quoted as the Helm chart does');
  // The Helm chart renders --namespace-selector="<selector>" with literal quotes.
  t.equal(parse(['--namespace-selector="team=a,env!=dev"']).watch.namespaceSelector, 'team=a,env!=dev');
  for (const bad of ['a=b=c', 'env in ()', 'bad key=x', 'k>x', 'k=-bad-', 'x in (a,-b)']) {
    throwsFor(t, [`--namespace-selector=${bad}`], '--namespace-selector', {}, /label selector|label key|label value|operators/);
  }
  throwsFor(t, ['--resource-label-selector=/x=y'], '--resource-label-selector');
});

t.test('enumerations', async (t) => {
  t.same(parse(['--resources-to-ignore=SECRETS']).watch.resourceKinds, ['ConfigMap']);
  t.same(parse(['--resources-to-ignore=secrets,secrets']).watch.resourceKinds, ['ConfigMap'], 'duplicates are fine');
  throwsFor(t, ['--resources-to-ignore=configmaps,secrets'], '--resources-to-ignore', {}, /both/);
  throwsFor(t, ['--resources-to-ignore=configmaps', '--resources-to-ignore=secrets'], '--resources-to-ignore', {}, /both/);
  throwsFor(t, ['--resources-to-ignore=pods'], '--resources-to-ignore', {}, /configmaps or secrets/);

  t.same(
    parse(['--is-Argo-Rollouts', '--ignored-workload-types=deployments,STATEFULSETS,daemonsets']).policy.workloadKinds,
    ['Rollout', 'CronJob', 'Job'],
  );
  t.same(parse(['--is-Argo-Rollouts', '--ignored-workload-types=rollouts']).policy.workloadKinds.includes('Rollout'), false);
  throwsFor(t, ['--ignored-workload-types=jobs,pods'], '--ignored-workload-types', {}, /"pods"/);

  throwsFor(t, ['--reload-strategy=restart'], '--reload-strategy', {}, /env-vars or annotations/);
  throwsFor(t, ['--reload-strategy=Env-Vars'], '--reload-strategy');

  const levels: [string, string][] = [
    ['trace', 'trace'],
    ['DEBUG', 'debug'],
    ['info', 'info'],
    ['warn', 'warn'],
    ['warning', 'warn'],
    ['error', 'error'],
    ['fatal', 'fatal'],
    ['panic', 'fatal'],
  ];
  for (const [v, level] of levels) t.equal(parse([`--log-level=${v}`]).logging.level, level, v);
  throwsFor(t, ['--log-level=verbose'], '--log-level');
  t.equal(parse(['--log-format=JSON']).logging.format, 'json');
  t.equal(parse(['--log-format=']).logging.format, '');
  throwsFor(t, ['--log-format=text'], '--log-format');
});

t.test('bad values name the flag', async (t) => {
  const cases: [string[], string][] = [
    [['--port=0'], '--port'],
    [['--port=65536'], '--port'],
    [['--port=80a'], '--port'],
    [['--port='], '--port'],
    [['--port=-1'], '--port'],
    [['--bind-address=not an address'], '--bind-address'],
    [['--cert-dir='], '--cert-dir'],
    [['--cert-secret=Bad'], '--cert-secret'],
    [['--cert-check-interval=500ms'], '--cert-check-interval'],
    [['--cert-check-interval=0'], '--cert-check-interval'],
    [['--service-name=a.b'], '--service-name'],
    [['--namespace='], '--namespace'],
    [['--namespace=UPPER'], '--namespace'],
    [['--webhook-config-name=x_y'], '--webhook-config-name'],
    [['--webhook-url=not-a-url'], '--webhook-url'],
    [['--webhook-url=ftp://x.example.com'], '--webhook-url'],
    [['--auto-annotation='], '--auto-annotation'],
    [['--auto-annotation=bad key'], '--auto-annotation'],
    [['--secret-annotation=/x'], '--secret-annotation'],
    [['--configmap-annotation=a/b/c'], '--configmap-annotation'],
    [['--pprof-addr=6060'], '--pprof-addr'],
    [['--pprof-addr=:70000'], '--pprof-addr'],
    [['--leader-election-retry-period=0'], '--leader-election-retry-period'],
    [['--leader-election-renew-deadline=2s'], '--leader-election-renew-deadline'],
    [['--leader-election-lease-duration=10s'], '--leader-election-lease-duration'],
    [['--leader-election-lease-duration=5s', '--leader-election-renew-deadline=4s', '--leader-election-retry-period=1s'], ''],
  ];
  for (const [argv, flag] of cases) {
    if (flag === '') {
      t.doesNotThrow(() => parse(argv), `${argv.join(' ')} is consistent`);
      continue;
    }
    throwsFor(t, argv, flag);
  }
  t.equal(parse(['--bind-address=localhost']).server.bindAddress, 'localhost');
  t.equal(parse(['--webhook-url=  ']).reload.webhookUrl, undefined, 'blank webhook-url is off');
  t.equal(parse(['--webhook-url=http://a.example.com/x']).reload.webhookUrl, 'http://a.example.com/x');
});

t.test('unknown flags, missing values, positional arguments', async (t) => {
  throwsFor(t, ['--bogus'], '--bogus', {}, /unknown flag: --bogus/);
  throwsFor(t, ['--bogus=1'], '--bogus', {}, /unknown flag: --bogus/);
  throwsFor(t, ['-bogus'], '-bogus');
  throwsFor(t, ['---port=1'], '---port');
  throwsFor(t, ['--=x'], '--');
  throwsFor(t, ['--Port=1'], '--Port', {}, /unknown/);
  throwsFor(t, ['--port'], '--port', {}, /needs an argument/);
  throwsFor(t, ['--enable-ha', 'yes'], 'yes', {}, /unexpected argument/);
  throwsFor(t, ['extra'], 'extra');
  throwsFor(t, ['-'], '-');
  throwsFor(t, ['--', '--port=1'], '--port=1', {}, /unexpected argument/);
  t.same(parse(['--']), DEFAULTS, 'a lone -- is fine');
  // Go semantics: a value-taking flag consumes the next argument whatever it is.
  t.equal(parse(['--kubeconfig', '-']).kube.kubeconfig, '-');
  throwsFor(t, ['--webhook-url', '-'], '--webhook-url');
  throwsFor(t, ['--webhook-url', '--port'], '--webhook-url');
});

t.test('environment variables', async (t) => {
  // Own namespace: flag > POD_NAMESPACE > RELOADER_NAMESPACE > default.
  t.same(parse([], { POD_NAMESPACE: 'p', RELOADER_NAMESPACE: 'r' }).identity, { namespace: 'p', namespaceSource: 'POD_NAMESPACE', podName: 'test-host' });
  t.same(parse([], { RELOADER_NAMESPACE: 'r' }).identity.namespaceSource, 'RELOADER_NAMESPACE');
  t.equal(parse(['--namespace=f'], { POD_NAMESPACE: 'p' }).identity.namespace, 'f');
  const c = parse([], { POD_NAMESPACE: 'p' });
  t.same(c.tls.sans.dnsNames, ['config-reloader', 'config-reloader.p', 'config-reloader.p.svc', 'config-reloader.p.svc.cluster.local']);
  t.equal(c.leaderElection.namespace, 'p');
  throwsFor(t, [], 'POD_NAMESPACE', { POD_NAMESPACE: 'NO' });
  throwsFor(t, [], 'RELOADER_NAMESPACE', { RELOADER_NAMESPACE: 'NO' });
  t.doesNotThrow(() => parse(['--namespace=ok'], { POD_NAMESPACE: 'NO' }), 'the flag wins, the env var is not read');

  // Identity: POD_NAME > HOSTNAME > host name.
  t.equal(parse([], { POD_NAME: 'pod-1', HOSTNAME: 'h' }).leaderElection.identity, 'pod-1');
  t.equal(parse([], { HOSTNAME: 'h' }).identity.podName, 'h');

  // Kubeconfig: flag > KUBECONFIG > in-cluster.
  t.same(parse([], { KUBECONFIG: '/k' }).kube, { kubeconfig: '/k', source: 'env' });
  t.same(parse(['--kubeconfig', '/f'], { KUBECONFIG: '/k' }).kube, { kubeconfig: '/f', source: 'flag' });
  t.same(parse(['--kubeconfig='], { KUBECONFIG: '/k' }).kube.source, 'env', 'an empty flag is unset');

  // Alerts.
  let a = parse([], {
    ALERT_ON_RELOAD: 'true',
    ALERT_SINK: ' Slack ',
    ALERT_WEBHOOK_URL: ' https://hooks.slack.com/x ',
    ALERT_WEBHOOK_PROXY: 'http://proxy:3128',
    ALERT_ADDITIONAL_INFO: ' prod-eu ',
  });
  t.same(a.alerts, { enabled: true, sink: 'slack', webhookUrl: 'https://hooks.slack.com/x', proxy: 'http://proxy:3128', additionalInfo: 'prod-eu' });
  t.same(a.warnings, []);
  for (const sink of ['teams', 'gchat', 'raw']) t.equal(parse([], { ALERT_SINK: sink }).alerts.sink, sink);
  a = parse([], { ALERT_ON_RELOAD: 'true', ALERT_SINK: 'webhook', ALERT_WEBHOOK_URL: 'http://x.example.com' });
  t.equal(a.alerts.sink, 'raw', 'unknown sinks send raw, as Reloader');
  t.match(a.warnings[0], /ALERT_SINK "webhook"/);
  t.equal(parse([], { ALERT_SINK: 'webhook' }).warnings.length, 0, 'no warning while alerts are off');
  a = parse([], { ALERT_ON_RELOAD: 'true' });
  t.match(a.warnings[0], /ALERT_WEBHOOK_URL is not set/);
  t.equal(parse([], { ALERT_ON_RELOAD: 'false' }).alerts.enabled, false);
  t.equal(parse([], { ALERT_ON_RELOAD: '' }).alerts.enabled, false);
  throwsFor(t, [], 'ALERT_ON_RELOAD', { ALERT_ON_RELOAD: 'yes' });
  throwsFor(t, [], 'ALERT_WEBHOOK_URL', { ALERT_ON_RELOAD: '1', ALERT_WEBHOOK_URL: 'nope' });
  t.equal(parse([], { ALERT_WEBHOOK_URL: 'nope' }).alerts.webhookUrl, 'nope', 'not checked while alerts are off');
  t.equal(parse([], { ALERT_ADDITIONAL_INFO: '' }).alerts.additionalInfo, '', 'set but empty is kept (Reloader prefixes it)');

  t.equal(parse([], { METRICS_COUNT_BY_NAMESPACE: 'enabled' }).metrics.countByNamespace, true);
  t.equal(parse([], { METRICS_COUNT_BY_NAMESPACE: 'true' }).metrics.countByNamespace, false, 'only "enabled", as Reloader');

  t.same(
    ENV_VARS.map((e) => e.name).sort(),
    ['ALERT_ADDITIONAL_INFO', 'ALERT_ON_RELOAD', 'ALERT_SINK', 'ALERT_WEBHOOK_PROXY', 'ALERT_WEBHOOK_URL', 'KUBECONFIG', 'KUBERNETES_NAMESPACE', 'METRICS_COUNT_BY_NAMESPACE', 'POD_NAME', 'POD_NAMESPACE', 'RELOADER_NAMESPACE'],
  );
});

t.test('warnings for accepted-but-not-built flags', async (t) => {
  const c = parse(['--enable-pprof', '--pprof-addr=:6061', '--enable-csi-integration', '--sync-after-restart']);
  t.equal(c.warnings.length, 3);
  t.match(c.warnings[0], /flag --enable-pprof is accepted but not built yet/);
  t.match(c.warnings[1], /flag --pprof-addr is accepted but not built yet/);
  t.match(c.warnings[2], /flag --enable-csi-integration is accepted but not built yet/);
  t.same(parse(['--enable-pprof=false', '--enable-csi-integration=false']).warnings, []);
});

t.test('Reloader v1.4 compatibility', async (t) => {
  // Flags and defaults of stakater/Reloader v1.4.21 (internal/pkg/util/util.go, ConfigureReloaderFlags).
  const reloader: Record<string, string> = {
    'auto-reload-all': 'false',
    'configmap-annotation': 'configmap.reloader.stakater.com/reload',
    'secret-annotation': 'secret.reloader.stakater.com/reload',
    'auto-annotation': 'reloader.stakater.com/auto',
    'ignore-annotation': 'reloader.stakater.com/ignore',
    'configmap-auto-annotation': 'configmap.reloader.stakater.com/auto',
    'secret-auto-annotation': 'secret.reloader.stakater.com/auto',
    'auto-search-annotation': 'reloader.stakater.com/search',
    'search-match-annotation': 'reloader.stakater.com/match',
    'pause-deployment-annotation': 'deployment.reloader.stakater.com/pause-period',
    'pause-deployment-time-annotation': 'deployment.reloader.stakater.com/paused-at',
    'log-format': '',
    'log-level': 'info',
    'webhook-url': '',
    'resources-to-ignore': '',
    'ignored-workload-types': '',
    namespaces: '',
    'namespaces-to-ignore': '',
    'namespace-selector': '',
    'resource-label-selector': '',
    'is-Argo-Rollouts': 'false',
    'reload-strategy': 'env-vars',
    'reload-on-create': 'false',
    'reload-on-delete': 'false',
    'enable-ha': 'false',
    'sync-after-restart': 'false',
    'enable-pprof': 'false',
    'pprof-addr': ':6060',
    'enable-csi-integration': 'false',
  };
  for (const [name, def] of Object.entries(reloader)) {
    const spec = findFlag(name);
    t.ok(spec?.reloader, `--${name} is marked as a Reloader flag`);
    t.equal(spec?.default, def, `--${name} has Reloader's default`);
  }
  t.same(
    FLAGS.filter((f) => f.reloader).map((f) => f.name).sort(),
    Object.keys(reloader).sort(),
    'no other flag claims to be Reloader\'s',
  );

  // Args as Reloader's Helm chart (v1.4.21 templates/deployment.yaml) renders them.
  const c = parse([
    '--log-format=json',
    '--log-level=warning',
    '--resources-to-ignore=secrets',
    '--ignored-workload-types=jobs,cronjobs',
    '--namespaces-to-ignore=kube-system,kube-public',
    '--namespace-selector="team=a"',
    '--resource-label-selector=reload=true',
    '--enable-pprof',
    '--pprof-addr=:6060',
    '--enable-csi-integration=true',
    '--configmap-annotation',
    'example.com/cm',
    '--webhook-url',
    'https://hooks.example.com/',
    '--is-Argo-Rollouts=true',
    '--reload-on-create=true',
    '--reload-on-delete=true',
    '--sync-after-restart=true',
    '--reload-strategy=annotations',
    '--enable-ha=true',
    '--auto-reload-all=true',
  ]);
  t.same(c.watch.resourceKinds, ['ConfigMap']);
  t.same(c.policy.workloadKinds, ['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout']);
  t.same(c.watch.namespacesToIgnore, ['kube-system', 'kube-public']);
  t.equal(c.watch.namespaceSelector, 'team=a');
  t.equal(c.annotations.configmapReload, 'example.com/cm');
  t.same([c.reload.onCreate, c.reload.onDelete, c.reload.strategy, c.leaderElection.enabled, c.policy.autoReloadAll], [true, true, 'annotations', true, true]);
  t.equal(c.logging.level, 'warn');
  // Reloader's string-typed booleans given as two arguments.
  const d = parse(['--reload-on-create', 'true', '--is-Argo-Rollouts', 'True']);
  t.same([d.reload.onCreate, d.policy.argoRollouts], [true, true]);
});

t.test('help', async (t) => {
  const help = helpText();
  for (const spec of FLAGS) {
    const line = help.split('\n').find((l) => l.startsWith(`  --${spec.name} `) || l.startsWith(`  --${spec.name},`) || l === `  --${spec.name}`);
    t.ok(line, `--${spec.name} is listed`);
    t.ok(line?.includes(`(default ${defaultDisplay(spec)})`), `--${spec.name} shows its default ${defaultDisplay(spec)}`);
    t.ok(line?.includes(spec.description), `--${spec.name} shows its description`);
  }
  for (const env of ENV_VARS) t.ok(help.includes(env.name), `${env.name} is listed`);
  t.ok(help.includes('(default 8443)'));
  t.ok(help.includes('(default "env-vars")'));
  t.ok(help.includes('(default 15s)'));
  t.ok(help.includes('(default [])'));
  t.ok(help.endsWith('\n'));

  for (const argv of [['--help'], ['-h'], ['-help'], ['--help=true'], ['--port=1', '-h'], ['--bogus', '--help'], ['--help', 'extra'], ['--port', 'x', '--help']]) {
    t.ok(isHelp(argv), `isHelp ${argv.join(' ')}`);
  }
  for (const argv of [[], ['--help=false'], ['--help=yes'], ['--webhook-url', '--help'], ['--', '--help'], ['--port']]) {
    t.notOk(isHelp(argv), `not help: ${argv.join(' ')}`);
  }
  t.same(parse(['--help']), DEFAULTS, 'parseConfig ignores --help');
});

t.test('flag table helpers', async (t) => {
  t.equal(flagSpec('h').name, 'help');
  t.throws(() => flagSpec('nope'), /no flag named nope/);
  t.same([...scanArgv(['--tls-san=a', '-tls-san', 'b', '--port=1']).entries()], [['tls-san', ['a', 'b']], ['port', ['1']]]);
  const names = new Set<string>();
  for (const spec of FLAGS) {
    t.notOk(names.has(spec.name), `--${spec.name} is unique`);
    names.add(spec.name);
    t.ok(spec.description.length > 0 && !spec.description.includes('\n'), `--${spec.name} has a one-line description`);
  }
  // Every default in the table parses (parse([]) would have thrown otherwise).
  t.ok(DEFAULTS);
});
