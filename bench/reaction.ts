/**
 * Reaction time of config-reloader (prints numbers; not a test).
 *
 *   node bench/reaction.ts [--deployments 10000] [--changes 60] [--warmup 3] [--timeout 30]
 *                          [--others auto|auto-existing|named|plain] [--settings a,b]
 *                          [--no-wait-idle]
 *                          [--gap 200] [--concurrency 50]
 *                          [--entry image|dist|src] [--cpu-prof DIR]
 *                          [--keep-logs DIR] [--reloader-arg FLAG]...
 *
 * Reaction time = a ConfigMap write → the Deployment's pod template carries
 * the new hash. The clock starts just before the write request is sent (the
 * commit happens inside it) and stops when the bench's own WATCH on the
 * Deployment delivers the MODIFIED event whose env var
 * STAKATER_TARGET_CONFIG_CONFIGMAP equals the new hash (computed with
 * src/core/hash.ts). No polling anywhere on the timed path.
 *
 * config-reloader runs as its real bin with every pacing knob off
 * (`--debounce 0 --min-reload-interval 0 --max-reloads-per-second 0`),
 * watching all namespaces. One Deployment `target` (1 replica, annotated
 * `reloader.stakater.com/auto: "true"`, envFrom ConfigMap `target-config`).
 * Changes are sequential: each waits for the previous one to land and for the
 * deployment controller to observe it, then `--gap` ms, so that one change's
 * rollout does not overlap the next change's timing.
 *
 * Settings, in one namespace `bench-reaction`, on one control plane:
 *   a  the target alone;
 *   b  plus `--deployments` other Deployments (replicas 0) created with
 *      `--concurrency` parallel POSTs over one keep-alive connection pool
 *      (429/5xx retried with Retry-After), then waiting until the deployment
 *      controller observed every one (status.observedGeneration >=
 *      metadata.generation). config-reloader is restarted after the load, so
 *      it starts from a paginated LIST of them, and timing starts only once
 *      its start-up reconcile queue has drained. `--others` says what they are:
 *        auto   annotated reloader.stakater.com/auto: "true", each with envFrom
 *               of its own (non-existent) ConfigMap other-config-N (default);
 *        auto-existing  the same, and the ConfigMaps exist (so each workload
 *               has something to reconcile: its template carries no stamp
 *               yet, so reconcile lists its pods);
 *        named  annotated configmap.reloader.stakater.com/reload: other-config-N;
 *        plain  not annotated.
 *      --no-wait-idle starts timing right after /readyz instead of after the
 *      start-up reconcile queue drained: what a change made during a
 *      config-reloader restart (or a resync) experiences; it implies
 *      --warmup 0 and a per-change --timeout of 300 s (else 3 and 30 s).
 *
 * --entry: image (default) runs the build of tsconfig.build.json (into a
 * temp folder) the way the image runs it: the node flags and malloc tunables
 * of the Dockerfile (bench/lib/image-env.ts: --lite-mode, small V8 limits);
 * dist the same build on Node's defaults; src `node src/main.ts`.
 *
 * Also reported: the write request's own duration, and when the bench's WATCH
 * on the ConfigMap saw the change (the API server's watch-delivery floor that
 * config-reloader's own ConfigMap watch cannot beat); and the cost of one API
 * call through the product client (bench/lib/client-probe.ts).
 *
 * Starts and stops its own control plane (test/harness/control-plane.ts);
 * loopback only. About 5–6 minutes with the defaults on 2 cores, most of it
 * the deployment controller catching up with the 10,000 Deployments.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { hashConfigMap } from '../src/core/hash.ts';
import { buildDist } from './lib/build.ts';
import { createNamespace, main, startCluster } from './lib/cluster.ts';
import { followObject, type Kube, type Obj } from './lib/kube.ts';
import { clientProbe } from './lib/client-probe.ts';
import { imageRuntime } from './lib/image-env.ts';
import { startReloader, type ReloaderProcess } from './lib/reloader.ts';
import { mb, ms, summarize, table, type Summary } from './lib/stats.ts';
import { load1, machineLine, procCpuSeconds, procMemory, runBounded, say, sleep } from './lib/system.ts';
import { configMap, configMapsPath, countReplicaSets, create, deployment, deploymentsPath, waitControllersCaughtUp } from './lib/workloads.ts';

const { values: args } = parseArgs({
  options: {
    deployments: { type: 'string', default: '10000' },
    changes: { type: 'string', default: '60' },
    warmup: { type: 'string' },
    timeout: { type: 'string' },
    others: { type: 'string', default: 'auto' },
    'no-wait-idle': { type: 'boolean', default: false },
    settings: { type: 'string', default: 'a,b' },
    gap: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '50' },
    'cpu-prof': { type: 'string' },
    'keep-logs': { type: 'string' },
    'reloader-arg': { type: 'string', multiple: true, default: [] },
    entry: { type: 'string', default: 'image' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: node bench/reaction.ts [--deployments 10000] [--changes 60] [--warmup 3] [--timeout 30] [--others auto|auto-existing|named|plain] [--settings a,b] [--no-wait-idle] [--gap 200] [--concurrency 50] [--entry image|dist|src] [--cpu-prof DIR] [--keep-logs DIR] [--reloader-arg FLAG]...\n');
  process.exit(0);
}
const int = (name: 'deployments' | 'changes' | 'warmup' | 'timeout' | 'gap' | 'concurrency', min = 0): number => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
};
const others = args.others;
if (others !== 'auto' && others !== 'auto-existing' && others !== 'named' && others !== 'plain') throw new Error('--others must be auto, auto-existing, named or plain');
const entry = args.entry;
if (entry !== 'src' && entry !== 'dist' && entry !== 'image') throw new Error('--entry must be image, dist or src');
const settings = args.settings.split(',').map((s) => s.trim());
if (settings.some((s) => s !== 'a' && s !== 'b')) throw new Error('--settings is a list of a, b');
const nDeployments = int('deployments');
const nChanges = int('changes', 1);
// --no-wait-idle measures the wait behind the start-up queue: no warm-up, a long timeout.
args.warmup ??= args['no-wait-idle'] ? '0' : '3';
args.timeout ??= args['no-wait-idle'] ? '300' : '30';
const nWarmup = int('warmup');
const timeoutMs = int('timeout', 1) * 1000;
const gapMs = int('gap');
const concurrency = int('concurrency', 1);

const NS = 'bench-reaction';
const TARGET = 'target';
const CM = 'target-config';
const ENV = 'STAKATER_TARGET_CONFIG_CONFIGMAP';
const RELOADER_FLAGS = ['--debounce', '0', '--min-reload-interval', '0', '--max-reloads-per-second', '0', '--log-level', 'info'];

interface Result {
  setting: string;
  deploymentsInNs: number;
  load1Before: number;
  load1After: number;
  reaction: Summary;
  afterResponse: Summary;
  cmWatch: Summary;
  write: Summary;
  failures: number;
  startupMs: number;
  idleMs: number;
  /** Queue depth when timing started (--no-wait-idle), else 0. */
  depthAtStart: number;
  rssKb: number;
  hwmKb: number;
  cpuSeconds: number;
}

interface Landed {
  obj: Obj;
  at: number;
  relisted: boolean;
}

function envOf(d: Obj): string | undefined {
  for (const c of d.spec?.template?.spec?.containers ?? []) for (const e of c.env ?? []) if (e.name === ENV) return e.value;
  return undefined;
}

/** Sequential timed ConfigMap changes; returns the samples. */
async function measure(kube: Kube, label: string, t0: number) {
  // Follow both objects with WATCHes (re-established if the API server drops them).
  let latest: Obj | undefined;
  let depWaiter: { hash: string; resolve: (e: Landed) => void } | undefined;
  let genWaiter: { generation: number; resolve: () => void } | undefined;
  let cmWaiter: { value: string; resolve: (at: number) => void } | undefined;
  const dw = followObject(kube, deploymentsPath(NS), TARGET, (obj, at, relisted) => {
    latest = obj;
    if (depWaiter && envOf(obj) === depWaiter.hash) {
      depWaiter.resolve({ obj, at, relisted });
      depWaiter = undefined;
    }
    if (genWaiter && (obj.status?.observedGeneration ?? 0) >= genWaiter.generation) {
      genWaiter.resolve();
      genWaiter = undefined;
    }
  });
  const cw = followObject(kube, configMapsPath(NS), CM, (obj, at, relisted) => {
    if (cmWaiter && obj.data?.VALUE === cmWaiter.value) {
      cmWaiter.resolve(relisted ? NaN : at);
      cmWaiter = undefined;
    }
  });
  await Promise.all([dw.ready, cw.ready]);
  const reaction: number[] = [];
  const afterResponse: number[] = [];
  const cmWatch: number[] = [];
  const write: number[] = [];
  let failures = 0;
  const withTimeout = async <T>(p: Promise<T>, msTimeout: number): Promise<T | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), msTimeout)))]);
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    for (let i = 0; i < nWarmup + nChanges; i++) {
      const value = `${label}-${i}-${randomBytes(4).toString('hex')}`;
      const hash = hashConfigMap({ VALUE: value });
      const landed = new Promise<Landed>((resolve) => (depWaiter = { hash, resolve }));
      const seen = new Promise<number>((resolve) => (cmWaiter = { value, resolve }));
      const start = performance.now();
      await kube.request('PATCH', `${configMapsPath(NS)}/${CM}`, { body: { data: { VALUE: value } }, contentType: 'application/merge-patch+json' });
      const responded = performance.now();
      const [ev, cmEv] = await Promise.all([withTimeout(landed, timeoutMs), withTimeout(seen, timeoutMs)]);
      if (!ev || ev.relisted) {
        if (i >= nWarmup) failures++;
        depWaiter = undefined;
        say(t0, ev ? `change ${i}: landed, but seen only by a GET after the watch was lost (not counted)` : `change ${i}: the template did not carry the new hash within ${timeoutMs / 1000} s`);
        continue;
      }
      if (i >= nWarmup) {
        reaction.push(ev.at - start);
        afterResponse.push(ev.at - responded);
        write.push(responded - start);
        if (cmEv !== undefined && Number.isFinite(cmEv)) cmWatch.push(cmEv - start);
      } else {
        say(t0, `warm-up change ${i + 1}/${nWarmup}: ${(ev.at - start).toFixed(1)} ms`);
      }
      // Let the deployment controller observe this generation before the next change.
      const gen = ev.obj.metadata.generation as number;
      if ((latest?.status?.observedGeneration ?? 0) < gen) await withTimeout(new Promise<void>((resolve) => (genWaiter = { generation: gen, resolve })), 30_000);
      genWaiter = undefined;
      await sleep(gapMs);
    }
  } finally {
    dw.close();
    cw.close();
  }
  return { reaction: summarize(reaction), afterResponse: summarize(afterResponse), cmWatch: summarize(cmWatch), write: summarize(write), failures };
}

function otherDeployment(i: number): Obj {
  const name = `other-${String(i).padStart(5, '0')}`;
  const cmName = `other-config-${i}`;
  switch (others) {
    case 'auto':
    case 'auto-existing':
      return deployment({ name, annotations: { 'reloader.stakater.com/auto': 'true' }, configMaps: [cmName] });
    case 'named':
      return deployment({ name, annotations: { 'configmap.reloader.stakater.com/reload': cmName } });
    default:
      return deployment({ name, configMaps: [cmName] });
  }
}

await main(async () => {
  const t0 = performance.now();
  process.stderr.write(`${machineLine()}\n`);
  const mainJs = entry === 'src' ? undefined : buildDist();
  const { cp, kube } = await startCluster({ controllerManager: true, ...(args['keep-logs'] ? { logDir: args['keep-logs'] } : {}) });
  await createNamespace(kube, NS);
  await create(kube, configMapsPath(NS), configMap(CM, { VALUE: 'initial' }));
  await create(kube, deploymentsPath(NS), deployment({ name: TARGET, replicas: 1, annotations: { 'reloader.stakater.com/auto': 'true' }, configMaps: [CM] }));
  await waitControllersCaughtUp(kube, NS, t0);

  say(t0, 'probing the cost of one API call through src/watcher/kube-client.ts');
  const probe = await clientProbe(cp.kubeconfigPath, `${configMapsPath(NS)}/${CM}`, 200);

  const results: Result[] = [];
  let loaded = 0;
  let runNo = 0;
  for (const setting of settings) {
    if (setting === 'b' && loaded < nDeployments) {
      say(t0, `creating ${nDeployments} other Deployments (${others}) in ${NS}, ${concurrency} in flight`);
      if (others === 'auto-existing') {
        await runBounded('configmaps', nDeployments, concurrency, (i) => create(kube, configMapsPath(NS), configMap(`other-config-${i}`, { VALUE: String(i) })));
      }
      await runBounded('deployments', nDeployments, concurrency, (i) => create(kube, deploymentsPath(NS), otherDeployment(i)));
      loaded = nDeployments;
      await waitControllersCaughtUp(kube, NS, t0);
      say(t0, `${await countReplicaSets(kube, NS)} ReplicaSets in ${NS}`);
    }
    const inNs = setting === 'b' ? loaded + 1 : 1;
    runNo++;
    const image = entry === 'image' ? imageRuntime() : { nodeFlags: [], env: {} };
    const nodeFlags = [...image.nodeFlags, ...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`, `--cpu-prof-name=reaction-${setting}-${runNo}.cpuprofile`] : [])];
    const reloader: ReloaderProcess = await startReloader({
      kubeconfigPath: cp.kubeconfigPath,
      args: [...RELOADER_FLAGS, ...(args['reloader-arg'] ?? [])],
      nodeFlags,
      env: image.env,
      ...(mainJs ? { entry: mainJs } : {}),
      ...(args['keep-logs'] ? { logPath: `${args['keep-logs']}/config-reloader-${setting}.log` } : {}),
    });
    const ready = await reloader.waitReady();
    const depthAtStart = args['no-wait-idle'] ? await reloader.queueDepth() : 0;
    if (!args['no-wait-idle']) await reloader.waitIdle();
    const idle = performance.now();
    if (args['no-wait-idle']) say(t0, `setting ${setting}: timing starts right after ready, with ${depthAtStart} workloads in the start-up reconcile queue`);
    say(t0, `setting ${setting}: config-reloader ready in ${(ready - reloader.spawnedAt).toFixed(0)} ms, queue drained after ${(idle - reloader.spawnedAt).toFixed(0)} ms`);
    const cpuBefore = procCpuSeconds(reloader.pid) ?? NaN;
    const load1Before = load1();
    const m = await measure(kube, setting, t0);
    const mem = procMemory(reloader.pid)!;
    const cpu = (procCpuSeconds(reloader.pid) ?? NaN) - cpuBefore;
    results.push({
      setting,
      deploymentsInNs: inNs,
      load1Before,
      load1After: load1(),
      ...m,
      startupMs: ready - reloader.spawnedAt,
      idleMs: idle - reloader.spawnedAt,
      depthAtStart,
      rssKb: mem.rssKb,
      hwmKb: mem.hwmKb,
      cpuSeconds: cpu,
    });
    say(t0, `setting ${setting}: reaction p50 ${ms(m.reaction.p50)}, p99 ${ms(m.reaction.p99)}`);
    await reloader.stop();
  }

  const othersText = others === 'auto' ? 'auto-annotated, each envFrom its own missing ConfigMap' : others === 'auto-existing' ? 'auto-annotated, each envFrom its own existing ConfigMap' : others === 'named' ? 'annotated configmap.reloader.stakater.com/reload: <own name>' : 'not annotated';
  process.stdout.write(`\nconfig-reloader reaction time: ConfigMap PATCH sent → Deployment MODIFIED event with the new hash (watch)\n`);
  process.stdout.write(`config-reloader run as ${entry === 'src' ? 'node src/main.ts' : entry === 'dist' ? 'compiled dist/src/main.js, Node defaults' : `compiled dist/src/main.js, as the image runs it: node ${imageRuntime().nodeFlags.join(' ')}, ${Object.entries(imageRuntime().env).map(([k, v]) => `${k}=${v}`).join(' ')}`}\n`);
  process.stdout.write(`${nChanges} sequential changes per setting after ${nWarmup} warm-up; --debounce 0 --min-reload-interval 0 --max-reloads-per-second 0\n`);
  if (args['no-wait-idle']) process.stdout.write('timing started right after /readyz, while the start-up reconcile queue was still draining (--no-wait-idle)\n');
  process.stdout.write(`setting b: ${nDeployments} other Deployments in the namespace (${othersText}, replicas 0)\n\n`);
  const rows: (string | number)[][] = [['setting', 'Deployments in ns', 'n', 'p50', 'p90', 'p99', 'max', 'mean', 'failures', 'load1 before/after']];
  for (const r of results) {
    rows.push([r.setting, r.deploymentsInNs, r.reaction.n, ms(r.reaction.p50), ms(r.reaction.p90), ms(r.reaction.p99), ms(r.reaction.max), ms(r.reaction.mean), r.failures, `${r.load1Before.toFixed(2)}/${r.load1After.toFixed(2)}`]);
  }
  process.stdout.write(`${table(rows)}\n\nBreakdown (p50 / p99):\n`);
  const rows2: (string | number)[][] = [['setting', 'PATCH request', 'CM watch seen (floor)', 'PATCH response → landed', 'start-up to ready', 'queue drained', 'RSS / peak after', 'CPU during changes']];
  for (const r of results) {
    rows2.push([
      r.setting,
      `${ms(r.write.p50)} / ${ms(r.write.p99)}`,
      `${ms(r.cmWatch.p50)} / ${ms(r.cmWatch.p99)}`,
      `${ms(r.afterResponse.p50)} / ${ms(r.afterResponse.p99)}`,
      `${(r.startupMs / 1000).toFixed(2)} s`,
      args['no-wait-idle'] ? `not waited (depth ${r.depthAtStart})` : `${(r.idleMs / 1000).toFixed(2)} s`,
      `${mb(r.rssKb)} / ${mb(r.hwmKb)}`,
      `${r.cpuSeconds.toFixed(2)} s`,
    ]);
  }
  process.stdout.write(`${table(rows2)}\n\n`);
  process.stdout.write('One API call (GET of the ConfigMap, sequential) through the product client src/watcher/kube-client.ts, measured in this process:\n');
  process.stdout.write(
    `${table([
      ['KubeClient.request', 'n', 'p50', 'p90', 'p99', 'CPU per call (client side)'],
      ...probe.map((p) => [p.variant, p.latency.n, ms(p.latency.p50), ms(p.latency.p90), ms(p.latency.p99), ms(p.cpuMs, 2)]),
    ])}\n\n${machineLine()}\n`,
  );
  process.stdout.write(`Targets: p50 ≤ 20 ms, p99 ≤ 60 ms, flat with ${nDeployments} Deployments (stakater/Reloader here: 15/19–28 ms empty, 66/124 ms at 2,000, 186/302 ms at 8,000).\n`);
});
