/**
 * Memory of config-reloader at start-up and after (prints numbers; not a test).
 *
 *   node bench/memory.ts [--scale 1] [--namespaces 10] [--after 10]
 *                        [--entry dist,src] [--annotated all|none]
 *                        [--big-secrets 1000] [--big-secret-kb 100]
 *                        [--big-layout spread|one-namespace]
 *                        [--concurrency 50] [--big-concurrency 8]
 *                        [--controller-manager] [--node-flag FLAG]... [--keep-logs DIR]
 *                        [--variant='NODE FLAGS']... [--breakdown] [--heap-snapshot DIR]
 *
 * --variant='[ENV=value] NODE FLAGS -- CONFIG-RELOADER FLAGS' (repeatable) starts
 * config-reloader once per variant on the same loaded cluster, e.g.
 * --variant= --variant='--max-old-space-size=64' --variant='@image -- --auto-annotation=x/y'
 * (the first: Node's defaults; the last: nothing is annotated for it, so no
 * start-up reconcile). `@image` stands for how the image runs it (the node
 * flags of the Dockerfile's ENTRYPOINT and its malloc tunables, read by
 * bench/lib/image-env.ts); without --variant, that is what runs. --breakdown
 * preloads bench/lib/memory-usage-logger.mjs to split the RSS into V8 heap,
 * external memory and the rest. --heap-snapshot DIR writes a V8 heap snapshot
 * of each variant at the end of its window (see bench/lib/heap-summary.ts).
 *
 * Loads, at --scale 1: 10,000 ConfigMaps (3 keys, ~0.6 KB), 10,000 Secrets
 * (9,000 of ~0.3 KB, 1,000 of ~100 KB: ~100 MB of Secret data) and 10,000
 * Deployments (replicas 0; each envFrom its ConfigMap and mounting its
 * Secret; with --annotated all, the default, each annotated
 * reloader.stakater.com/auto: "true"), spread round-robin over --namespaces
 * namespaces. Small objects go in with --concurrency parallel POSTs, the big
 * Secrets with --big-concurrency (etcd-friendly: ~1 MB in flight).
 *
 * Then starts config-reloader (after the load, so its caches fill from
 * paginated LISTs, as after a restart in a big cluster), samples VmRSS and
 * VmHWM (peak) from /proc/<pid>/status every 100 ms from spawn, polls /readyz
 * every 100 ms, and keeps sampling for --after seconds after the first 200.
 * Reports the start-up time, the peak (VmHWM), RSS at ready, the steady RSS
 * (median of the last half of the window) and when the start-up reconcile
 * queue drained.
 *
 * --entry (a comma list; each entry runs every variant) dist (default) runs what production runs: src/ compiled by the
 * project's tsc (tsconfig.build.json) into a temp folder; --entry src runs
 * src/main.ts on Node's type stripping (~20 MB more: the stripper itself).
 *
 * The control plane runs without kube-controller-manager unless
 * --controller-manager (nothing here needs ReplicaSets). Loopback only; starts
 * and stops its own control plane; about 2–3 minutes at --scale 1.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildDist } from './lib/build.ts';
import { imageRuntime } from './lib/image-env.ts';
import { createNamespace, main, startCluster } from './lib/cluster.ts';
import { startReloader } from './lib/reloader.ts';
import { mb, table } from './lib/stats.ts';
import { load1, machineLine, mappingRss, procCpuSeconds, procMemory, runBounded, say, sleep, type MappingRss } from './lib/system.ts';
import { configMap, configMapsPath, create, deployment, deploymentsPath, secret, secretsPath } from './lib/workloads.ts';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    namespaces: { type: 'string', default: '10' },
    after: { type: 'string', default: '10' },
    entry: { type: 'string', default: 'dist' },
    annotated: { type: 'string', default: 'all' },
    'big-secrets': { type: 'string', default: '1000' },
    'big-secret-kb': { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '50' },
    'big-concurrency': { type: 'string', default: '8' },
    'big-layout': { type: 'string', default: 'spread' },
    'controller-manager': { type: 'boolean', default: false },
    'node-flag': { type: 'string', multiple: true, default: [] },
    variant: { type: 'string', multiple: true, default: [] },
    breakdown: { type: 'boolean', default: false },
    'heap-snapshot': { type: 'string' },
    'reloader-arg': { type: 'string', multiple: true, default: [] },
    'keep-logs': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'usage: node bench/memory.ts [--scale 1] [--namespaces 10] [--after 10] [--entry dist,src] [--annotated all|none] [--big-secrets 1000] [--big-secret-kb 100] [--big-layout spread|one-namespace] [--concurrency 50] [--big-concurrency 8] [--controller-manager] [--node-flag FLAG]... [--reloader-arg FLAG]... [--variant=\'NODE FLAGS\']... [--breakdown] [--heap-snapshot DIR] [--keep-logs DIR]\n',
  );
  process.exit(0);
}
const num = (name: 'scale' | 'namespaces' | 'after' | 'big-secrets' | 'big-secret-kb' | 'concurrency' | 'big-concurrency'): number => {
  const n = Number(args[name]);
  if (!(n >= 0) || !Number.isFinite(n)) throw new Error(`--${name} must be a number >= 0`);
  return n;
};
const scale = num('scale');
const nNs = Math.max(1, Math.round(num('namespaces')));
const afterMs = num('after') * 1000;
const entries = args.entry.split(',').map((e) => e.trim());
if (entries.some((e) => e !== 'dist' && e !== 'src')) throw new Error('--entry is a comma list of dist, src');
if (args.annotated !== 'all' && args.annotated !== 'none') throw new Error('--annotated must be all or none');
if (args['big-layout'] !== 'spread' && args['big-layout'] !== 'one-namespace') throw new Error('--big-layout must be spread or one-namespace');
const N = Math.round(10_000 * scale);
const nBig = Math.min(N, Math.round(num('big-secrets') * scale));
const bigBytes = num('big-secret-kb') * 1024;
const concurrency = Math.max(1, Math.round(num('concurrency')));
const bigConcurrency = Math.max(1, Math.round(num('big-concurrency')));

const ENTRY_TEXT: Record<string, string> = {
  dist: 'compiled dist/src/main.js',
  src: 'src/main.ts on type stripping',
};
const LOGGER = fileURLToPath(new URL('./lib/memory-usage-logger.mjs', import.meta.url));
const nsOf = (i: number) => `bench-mem-${i % nNs}`;
const SAMPLE_MS = 100;

// Deterministic filler text for ConfigMaps (~0.6 KB each).
const properties = (i: number) =>
  Array.from({ length: 12 }, (_, k) => `setting.${k}.name=value-${i}-${k}-${'x'.repeat(20)}`).join('\n');

interface Sample {
  t: number;
  rssKb: number;
  hwmKb: number;
}

interface Run {
  label: string;
  samples: Sample[];
  readyAt: number;
  cpuAtReady: number;
  cpuEnd: number;
  drainedAt: number | undefined;
  depths: { t: number; depth: number }[];
  loadBefore: number;
  loadAfter: number;
  reloads: number;
  maxFds: number;
  lastFds: number;
  steady: number;
  last: Sample;
  hwmAtReady: number;
  rssAtReady: number;
  /** process.memoryUsage() lines (with --breakdown). */
  usage: Usage[];
  /** RSS by mapping kind at the end of the window. */
  mappings: MappingRss | undefined;
}

interface Usage {
  t: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

function readUsage(logPath: string): Usage[] {
  let text = '';
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.includes('"bench-memory-usage"'))
    .map((l) => JSON.parse(l) as Usage);
}

/** SIGUSR2 (with --heapsnapshot-signal) and wait until the snapshot file stops growing. */
async function heapSnapshot(pid: number, dir: string, label: string): Promise<void> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let file: string | undefined;
  let lastSize = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(500);
    file ??= readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const size = statSync(`${dir}/${file}`).size;
    if (size > 0 && size === lastSize) break;
    lastSize = size;
  }
  process.stderr.write(`heap snapshot of ${label}: ${dir}/${file} (${(lastSize / 2 ** 20).toFixed(0)} MB); summarise with node bench/lib/heap-summary.ts\n`);
}

/** Open file descriptors of a process (sockets included). */
function openFds(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

await main(async () => {
  const t0 = performance.now();
  process.stderr.write(`${machineLine()}\n`);
  const mains = new Map(entries.map((e) => [e, e === 'src' ? undefined : buildDist()]));
  const { cp, kube } = await startCluster({ controllerManager: args['controller-manager'], ...(args['keep-logs'] ? { logDir: args['keep-logs'] } : {}) });
  for (let n = 0; n < nNs; n++) await createNamespace(kube, nsOf(n));

  say(t0, `loading ${N} ConfigMaps, ${N} Secrets (${nBig} of ${bigBytes / 1024} KB) and ${N} Deployments over ${nNs} namespaces`);
  const loadStart = performance.now();
  await runBounded('configmaps', N, concurrency, (i) =>
    create(kube, configMapsPath(nsOf(i)), configMap(`cm-${i}`, { 'app.properties': properties(i), LOG_LEVEL: 'info', INDEX: String(i) })),
  );
  // spread: in every namespace, one run of nNs consecutive indexes in each
  // `stride` runs is big (so each LIST page of Secrets holds ~1/stride big
  // ones). one-namespace: every stride-th index, which nsOf maps to the same
  // namespace: pages of 100 big Secrets (~13 MB of JSON each).
  const stride = nBig > 0 ? N / nBig : Infinity;
  const isBig = (i: number) => nBig > 0 && (args['big-layout'] === 'one-namespace' ? i % stride < 1 : Math.floor(i / nNs) % stride < 1);
  const bigIdx = Array.from({ length: N }, (_, i) => i).filter(isBig);
  const smallIdx = Array.from({ length: N }, (_, i) => i).filter((i) => !isBig(i));
  await runBounded(`secrets (${bigBytes / 1024} KB)`, bigIdx.length, bigConcurrency, (k) => create(kube, secretsPath(nsOf(bigIdx[k]!)), secret(`secret-${bigIdx[k]}`, bigBytes)));
  await runBounded('secrets (small)', smallIdx.length, concurrency, (k) => create(kube, secretsPath(nsOf(smallIdx[k]!)), secret(`secret-${smallIdx[k]}`, 256)));
  await runBounded('deployments', N, concurrency, (i) =>
    create(
      kube,
      deploymentsPath(nsOf(i)),
      deployment({
        name: `app-${i}`,
        ...(args.annotated === 'all' ? { annotations: { 'reloader.stakater.com/auto': 'true' } } : {}),
        configMaps: [`cm-${i}`],
        secrets: [`secret-${i}`],
      }),
    ),
  );
  const loadSeconds = (performance.now() - loadStart) / 1000;
  say(t0, `loaded in ${loadSeconds.toFixed(1)} s; settling 3 s`);
  await sleep(3_000);

  const results: Run[] = [];
  // Default: as the image runs it (the Dockerfile's NODE_OPTIONS and malloc tunables).
  const variants = args.variant && args.variant.length > 0 ? args.variant : ['@image'];
  for (const e of entries) {
    for (const v of variants) {
      // 'NODE FLAGS -- RELOADER FLAGS'
      const [nodePart, reloaderPart] = ` ${v} `.split(' -- ');
      const snap = args['heap-snapshot'] ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${args['heap-snapshot']}`] : [];
      const tokens = (nodePart ?? '')
        .split(' ')
        .filter(Boolean)
        .flatMap((t) => (t === '@image' ? [...Object.entries(imageRuntime().env).map(([k, v]) => `${k}=${v}`), ...imageRuntime().nodeFlags] : [t]));
      // NAME=value tokens are environment variables (e.g. MALLOC_ARENA_MAX=2), the rest node flags.
      const env = Object.fromEntries(tokens.filter((t) => /^[A-Z_][A-Z0-9_]*=/.test(t)).map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)]));
      const flags = [...snap, ...(args.breakdown ? [`--import=${LOGGER}`] : []), ...(args['node-flag'] ?? []), ...tokens.filter((t) => !/^[A-Z_][A-Z0-9_]*=/.test(t))];
      const label = entries.length > 1 || e !== 'dist' ? `${e}${v.trim() ? ` ${v.trim()}` : ''}` : v.trim() || '(default)';
      results.push(await measure(mains.get(e), flags, env, (reloaderPart ?? '').split(' ').filter(Boolean), label));
    }
  }

  process.stdout.write(`\nconfig-reloader memory, default flags; ${entries.map((e) => `${e}: ${ENTRY_TEXT[e]}`).join('; ')}\n`);
  process.stdout.write(
    `cluster: ${N} ConfigMaps, ${N} Secrets (${nBig} × ${bigBytes / 1024} KB, ${args['big-layout'] === 'spread' ? 'spread over the namespaces' : 'all in one namespace'}), ${N} Deployments (${args.annotated === 'all' ? 'all auto-annotated' : 'none annotated'}), over ${nNs} namespaces; loaded in ${loadSeconds.toFixed(0)} s\n\n`,
  );
  const col = (f: (r: Run) => string): string[] => results.map(f);
  process.stdout.write(
    `${table([
      ['node flags', ...col((r) => r.label)],
      ['start-up: spawn → /readyz 200', ...col((r) => `${(r.readyAt / 1000).toFixed(2)} s`)],
      ['CPU used until ready', ...col((r) => `${r.cpuAtReady.toFixed(2)} s`)],
      ['peak RSS until ready (VmHWM)', ...col((r) => mb(r.hwmAtReady))],
      ['RSS at ready', ...col((r) => mb(r.rssAtReady))],
      [`peak RSS incl. ${afterMs / 1000} s after ready (VmHWM)`, ...col((r) => mb(r.last.hwmKb))],
      [`steady RSS (median, last ${afterMs / 2000} s)`, ...col((r) => mb(r.steady))],
      ['RSS at the end', ...col((r) => mb(r.last.rssKb))],
      ['open fds: max / at the end', ...col((r) => `${r.maxFds} / ${r.lastFds}`)],
      ['start-up reconcile queue', ...col((r) => (r.drainedAt !== undefined ? `drained ${(r.drainedAt / 1000).toFixed(1)} s after spawn` : `depth ${r.depths[r.depths.length - 1]?.depth} at the end`))],
      ['CPU used in total', ...col((r) => `${r.cpuEnd.toFixed(2)} s in ${(r.last.t / 1000).toFixed(1)} s`)],
      ['reloads executed (expect 0)', ...col((r) => String(r.reloads))],
      ['load1 before / after', ...col((r) => `${r.loadBefore.toFixed(2)} / ${r.loadAfter.toFixed(2)}`)],
    ])}\n\n`,
  );
  if (args.breakdown) {
    // What the RSS is made of, at the sample with the highest RSS and at the end.
    const mbB = (b: number) => `${(b / 2 ** 20).toFixed(0)}`;
    const rows: string[][] = [['node flags', 'when', 'RSS', 'V8 heap used', 'V8 heap committed', 'external (Buffers)', 'RSS − heap − external']];
    for (const r of results) {
      if (r.usage.length === 0) continue;
      const peak = r.usage.reduce((a, b) => (b.rss > a.rss ? b : a));
      const atReady = r.usage.filter((u) => u.t <= r.readyAt).pop();
      const end = r.usage[r.usage.length - 1]!;
      for (const [when, u] of [[`ready (${((atReady?.t ?? 0) / 1000).toFixed(1)} s)`, atReady], [`peak RSS (${(peak.t / 1000).toFixed(1)} s)`, peak], [`end (${(end.t / 1000).toFixed(1)} s)`, end]] as const) {
        if (!u) continue;
        rows.push([r.label, when, mbB(u.rss), mbB(u.heapUsed), mbB(u.heapTotal), mbB(u.external), mbB(u.rss - u.heapTotal - u.external)]);
      }
    }
    process.stdout.write(`process.memoryUsage() inside config-reloader (MB; times since its start):\n${table(rows)}\n\n`);
    const m = (kb: number | undefined) => (kb === undefined ? '-' : `${(kb / 1024).toFixed(0)}`);
    process.stdout.write(
      `RSS by mapping at the end (MB, /proc/<pid>/smaps):\n${table([
        ['node flags', 'anonymous (V8 heap, malloc mmap, stacks)', '[heap] (brk malloc arena)', 'file-backed (node binary, libs)'],
        ...results.map((r) => [r.label, m(r.mappings?.anonKb), m(r.mappings?.brkKb), m(r.mappings?.fileKb)]),
      ])}\n\n`,
    );
  }
  for (const r of results) {
    // A coarse timeline: RSS each second.
    const timeline: string[] = [];
    for (let sec = 0; sec * 1000 <= r.last.t; sec++) {
      const s = r.samples.filter((x) => x.t <= (sec + 1) * 1000 && x.t > sec * 1000);
      if (s.length) timeline.push(`${sec}s:${(Math.max(...s.map((x) => x.rssKb)) / 1024).toFixed(0)}`);
    }
    process.stdout.write(`${r.label}: RSS timeline (MB, max per second since spawn; ready at ${(r.readyAt / 1000).toFixed(1)} s):\n  ${timeline.join(' ')}\n`);
    process.stdout.write(`  queue depth after ready: ${r.depths.map((d) => `${(d.t / 1000).toFixed(0)}s:${d.depth}`).join(' ')}\n`);
  }
  process.stdout.write(`\n${machineLine()}\nTarget: peak ≤ 125 MB including start-up (stakater/Reloader: 247 MB).\n`);

  async function measure(mainJs: string | undefined, nodeFlags: string[], env: Record<string, string>, reloaderFlags: string[], label: string): Promise<Run> {
    const loadBefore = load1();
    const r = await startReloader({
      kubeconfigPath: cp.kubeconfigPath,
      args: ['--log-level', 'info', ...(args['reloader-arg'] ?? []), ...reloaderFlags],
      nodeFlags,
      env,
      ...(mainJs ? { entry: mainJs } : {}),
      ...(args['keep-logs'] ? { logPath: `${args['keep-logs']}/config-reloader-memory-${results.length}.log` } : {}),
    });
    const samples: Sample[] = [];
    let maxFds = 0;
    let lastFds = 0;
    let tick = 0;
    const sample = () => {
      const m = procMemory(r.pid);
      if (m) samples.push({ t: performance.now() - r.spawnedAt, ...m });
      if (tick++ % 5 === 0) {
        lastFds = openFds(r.pid) ?? lastFds;
        maxFds = Math.max(maxFds, lastFds);
      }
    };
    const sampler = setInterval(sample, SAMPLE_MS);
    let readyAt: number;
    let cpuAtReady: number;
    let drainedAt: number | undefined;
    const depths: { t: number; depth: number }[] = [];
    try {
      readyAt = (await r.waitReady({ intervalMs: SAMPLE_MS })) - r.spawnedAt;
      cpuAtReady = procCpuSeconds(r.pid) ?? NaN;
      say(t0, `${label}: config-reloader ready after ${(readyAt / 1000).toFixed(2)} s; sampling ${afterMs / 1000} s more`);
      const end = performance.now() + afterMs;
      while (performance.now() < end) {
        const t = performance.now() - r.spawnedAt;
        const depth = await r.queueDepth().catch(() => NaN);
        depths.push({ t, depth });
        if (depth === 0 && drainedAt === undefined) drainedAt = t;
        if (depth !== 0) drainedAt = undefined;
        await sleep(Math.max(0, 1000 - (performance.now() - r.spawnedAt - t)));
      }
    } finally {
      clearInterval(sampler);
    }
    sample();
    const mappings = mappingRss(r.pid);
    const cpuEnd = procCpuSeconds(r.pid) ?? NaN;
    const loadAfter = load1();
    const reloads = await r.metric('reloader_reload_executed_total').catch(() => NaN);
    if (args['heap-snapshot']) await heapSnapshot(r.pid, args['heap-snapshot'], label);
    await r.stop();
    const beforeReady = samples.filter((s) => s.t <= readyAt);
    const window = samples.filter((s) => s.t > readyAt + afterMs / 2);
    const sorted = window.map((s) => s.rssKb).sort((a, b) => a - b);
    return {
      label,
      samples,
      readyAt,
      cpuAtReady,
      cpuEnd,
      drainedAt,
      depths,
      loadBefore,
      loadAfter,
      reloads,
      maxFds,
      lastFds,
      steady: sorted[Math.floor(sorted.length / 2)] ?? NaN,
      last: samples[samples.length - 1]!,
      hwmAtReady: beforeReady.length ? beforeReady[beforeReady.length - 1]!.hwmKb : NaN,
      rssAtReady: beforeReady.length ? beforeReady[beforeReady.length - 1]!.rssKb : NaN,
      usage: readUsage(r.logPath),
      mappings,
    };
  }
});
