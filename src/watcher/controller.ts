/**
 * The reload controller: turns cache changes into keyed, debounced reconciles
 * of workloads and writes reloads (DESIGN.md §6). Level-triggered: every
 * change only enqueues workload keys; reconcile re-reads the caches and
 * decides from desired vs observed state.
 */
import { planStamps, policyOf, type Stamp } from '../core/plan.ts';
import { isInterested, type PolicyOptions } from '../core/policy.ts';
import { envVarName, findReferences } from '../core/refs.ts';
import { cacheKey, type WorkloadEntry, type WorkloadKind } from '../core/types.ts';
import { parseGoDuration } from '../config/duration.ts';
import { sendAlert, type AlertOptions } from './alerts.ts';
import { postJson } from './post-json.ts';
import { applyReload, unpause } from './apply.ts';
import type { CachedResource, Caches, CacheListener } from './cache.ts';
import { compareTemplate, newestStamps, resolveUnknown, type PodStampSource, type ReloadReason } from './decide.ts';
import { postEvent } from './events.ts';
import { PodSnapshots } from './pod-snapshots.ts';
import { KubeError, type KubeClient } from './kube-client.ts';
import type { WatcherMetrics } from './metrics.ts';
import { WorkQueue, type ProcessResult } from './queue.ts';
import { TokenBucket } from './rate.ts';
import { carriedEnv, parseLastReloaded, typeWord, type TemplateChange } from './template.ts';

export interface ControllerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ControllerOptions {
  policy: PolicyOptions;
  strategy: 'env-vars' | 'annotations';
  reloadOnCreate: boolean;
  reloadOnDelete: boolean;
  /** One rollout for a burst of changes within this window. 0 = off. */
  debounceMs: number;
  /** At most one reload of a workload per this interval. 0 = off. */
  minReloadIntervalMs: number;
  /** Global reload rate. 0 = off. */
  maxReloadsPerSecond: number;
  /** Reconcile every workload this often. 0 = off. */
  resyncPeriodMs: number;
  /** `--webhook-url`: POST the reload there instead of patching. */
  webhookUrl?: string;
  alerts?: AlertOptions;
  /** reportingInstance of Events (the pod name). */
  identity: string;
  concurrency?: number;
  /** Pace of start-up and resync passes, workloads per second (PASS_PER_SECOND; 0: unpaced). */
  passPerSecond?: number;
  log: ControllerLogger;
  metrics?: WatcherMetrics;
}

// A resource created after start-up, with --reload-on-create: its baseline
// differs from any hash, so workloads that use it reload once.
const CREATED = '(created)';

/** Backoff for failed reloads of one workload: 1 s doubling to 5 min. */
function failureBackoff(attempt: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempt - 1), 300_000);
}

/** What `explain` reports for a workload. */
export interface Explanation {
  workload: string;
  interested: boolean;
  follows: { kind: string; name: string; hash: string; envName: string; container: string | undefined }[];
  missing: string[];
  template: Record<string, string>;
  pods?: Record<string, string>;
  wouldReload: { kind: string; name: string; reason: ReloadReason }[];
}

/**
 * Start-up, leader-change and resync passes reconcile at most this many
 * workloads per second (real changes are not paced). A no-op reconcile
 * allocates ~13 KB (plans, maps, sorted stamps); unpaced, a pass over 10,000
 * workloads allocated ~400 MB/s for 0.3 s, and V8's young generation grew
 * past its 1 MB limit while a major GC finished, raising peak RSS by up to
 * 20 MB (bench/README.md). 2,000/s: 10,000 workloads in 5 s.
 */
export const PASS_PER_SECOND = 2000;

export class Controller implements CacheListener {
  private readonly client: KubeClient;
  private readonly caches: Caches;
  private readonly o: ControllerOptions;
  readonly queue: WorkQueue;
  private readonly bucket: TokenBucket;
  // The hash of a resource when this process first saw it (in scope) is the
  // cache entry's `firstSeen`: set here, handed on to the entry that replaces
  // it, gone with the entry when the resource is deleted.
  /** `workloadKey|resourceKey` → hash this process last wrote. */
  private readonly applied = new Map<string, string>();
  private readonly lastReload = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private leader = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Keys queued by a start-up or resync pass (and by no real change since): their pods come from a namespace snapshot. */
  private readonly passKeys = new Set<string>();
  private readonly snapshots: PodSnapshots;

  constructor(client: KubeClient, caches: Caches, opts: ControllerOptions) {
    this.client = client;
    this.caches = caches;
    this.o = opts;
    this.bucket = new TokenBucket(opts.maxReloadsPerSecond);
    this.snapshots = new PodSnapshots((ns, query) => client.listPage(`/api/v1/namespaces/${encodeURIComponent(ns)}/pods`, query));
    this.queue = new WorkQueue({
      concurrency: opts.concurrency ?? 4,
      lowPerSecond: opts.passPerSecond ?? PASS_PER_SECOND,
      process: (key) => this.process(key),
      onError: (key, err) => this.o.log.warn({ workload: key, err: (err as Error).message }, 'reconcile failed'),
    });
    caches.setListener(this);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /**
   * Start or stop acting. Becoming leader reconciles every workload once
   * (start-up, or a leader change: catches what happened meanwhile).
   */
  setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.o.metrics?.leader.set(leader ? 1 : 0);
    if (leader) {
      this.o.log.info({}, 'leading: reconciling every workload');
      this.enqueueAll(0);
      if (this.o.resyncPeriodMs > 0) {
        this.resyncTimer = setInterval(() => this.enqueueAll(0), this.o.resyncPeriodMs);
        this.resyncTimer.unref();
      }
    } else {
      this.o.log.info({}, 'not leading: reloads stop');
      if (this.resyncTimer) clearInterval(this.resyncTimer);
      this.queue.clear();
      this.passKeys.clear();
      this.snapshots.clear();
    }
  }

  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.leader = false;
    await this.queue.stop();
    this.snapshots.clear();
  }

  /** Start-up, leader change and resync: every interested workload, behind real changes. */
  private enqueueAll(delay: number): void {
    for (const w of this.caches.allWorkloads()) {
      if (!isInterested(policyOf(w, this.o.policy))) continue;
      const key = cacheKey(w.kind, w.namespace, w.name);
      this.passKeys.add(key);
      this.queue.add(key, delay, 'low');
    }
  }

  private enqueue(w: WorkloadEntry, delay = this.o.debounceMs): void {
    if (!this.leader) return;
    const key = cacheKey(w.kind, w.namespace, w.name);
    this.passKeys.delete(key); // a real change: its pods are listed fresh
    this.queue.add(key, delay);
  }

  // ---- CacheListener: changes only enqueue keys ----

  resourceChanged(r: CachedResource, old: CachedResource | undefined, initial: boolean): void {
    // What was first seen stays, in scope or not, for as long as the resource exists.
    if (old && r.firstSeen === undefined) r.firstSeen = old.firstSeen;
    // Out of scope (namespace not selected/ignored): not "seen" yet; the
    // baseline is taken when its namespace enters the scope.
    if (!this.caches.inScope(r.namespace)) return;
    r.firstSeen ??= !initial && !old && this.o.reloadOnCreate ? CREATED : r.hash;
    // a relist or a metadata-only change: nothing that can change a decision
    if (old && old.hash === r.hash && JSON.stringify(old.annotations) === JSON.stringify(r.annotations)) return;
    if (initial) return; // start-up reconciles everything once anyway
    for (const w of this.caches.dependents(r.kind, r.namespace, r.name)) this.enqueue(w);
  }

  resourceDeleted(r: CachedResource): void {
    // (its firstSeen went with its entry)
    if (!this.o.reloadOnDelete) return;
    for (const w of this.caches.dependents(r.kind, r.namespace, r.name)) this.enqueue(w);
  }

  workloadChanged(w: WorkloadEntry): void {
    if (isInterested(policyOf(w, this.o.policy))) this.enqueue(w);
  }

  workloadDeleted(w: WorkloadEntry): void {
    const key = cacheKey(w.kind, w.namespace, w.name);
    this.lastReload.delete(key);
    this.failures.delete(key);
    for (const k of [...this.applied.keys()]) if (k.startsWith(`${key}|`)) this.applied.delete(k);
  }

  namespaceChanged(ns: string): void {
    if (!this.caches.inScope(ns)) return;
    // Entering the scope: what its resources hold now is the baseline; a
    // change made while the namespace was not selected is not ours to act on.
    for (const r of this.caches.resourcesIn(ns)) r.firstSeen = r.hash;
    for (const w of this.caches.workloadsIn(ns)) if (isInterested(policyOf(w, this.o.policy))) this.enqueue(w, 0);
  }

  // ---- reconcile ----

  private async process(key: string): Promise<ProcessResult | void> {
    // taken first: a key must not stay behind for a workload deleted meanwhile
    const fromPass = this.passKeys.delete(key);
    if (!this.leader) return;
    const [kind, namespace, name] = key.split('/') as [WorkloadKind, string, string];
    const w = this.caches.getWorkload(kind, namespace, name);
    if (!w) return;
    const end = this.o.metrics?.reconcileDuration.startTimer();
    try {
      return await this.reconcile(key, w, fromPass);
    } finally {
      end?.();
    }
  }

  private skip(reason: string): void {
    this.o.metrics?.skipped.inc({ reason });
  }

  /**
   * Stamps of the workload's live pods, newest pod first, for `names`; from
   * the namespace's snapshot in a start-up or resync pass.
   */
  private async podStamps(w: WorkloadEntry, names: Set<string>, fromPass: boolean): Promise<Map<string, string>> {
    if (!w.selector || names.size === 0 || w.kind === 'CronJob') return new Map();
    if (fromPass) return newestStamps(await this.snapshots.matching(w.namespace, w.selector), names);
    const list = await this.client.request<{ items?: PodStampSource[] }>('GET', `/api/v1/namespaces/${encodeURIComponent(w.namespace)}/pods`, {
      query: { labelSelector: w.selector, limit: 500 },
    });
    return newestStamps(list.items ?? [], names);
  }

  /** Everything reconcile decides, without writing (also serves `explain`). */
  private async evaluate(key: string, w: WorkloadEntry, withPods: boolean, fromPass = false) {
    const plan = planStamps(w, w.template.spec, this.caches, this.o.policy);
    const carried = carriedEnv(w.template.spec);
    const last = parseLastReloaded(w.template.metadata?.annotations, this.o.policy.annotations.lastReloadedFrom);
    const verdict = compareTemplate(plan.stamps, this.o.strategy, carried, last);
    const reloads: { stamp: Stamp; reason: ReloadReason }[] = verdict.differs.map((s) => ({ stamp: s, reason: 'template-differs' as const }));
    let pods: Map<string, string> | undefined;
    if (verdict.unknown.length > 0 && withPods) {
      pods = await this.podStamps(w, new Set(verdict.unknown.map((s) => s.envName)), fromPass);
      reloads.push(
        ...resolveUnknown(
          verdict.unknown,
          pods,
          (s) => this.applied.get(`${key}|${cacheKey(s.kind, s.namespace, s.name)}`) ?? this.caches.cachedResource(s.kind, s.namespace, s.name)?.firstSeen,
        ),
      );
    }
    // --reload-on-delete: a referenced resource that no longer exists loses its env var
    const remove: TemplateChange['remove'] = [];
    if (this.o.reloadOnDelete && this.o.strategy === 'env-vars') {
      const refs = findReferences(w.template.spec);
      for (const kind of ['ConfigMap', 'Secret'] as const) {
        for (const n of refs[kind]) {
          if (this.caches.getResource(kind, w.namespace, n) || !this.caches.covers(kind, w.namespace)) continue;
          const env = envVarName(kind, n);
          const c = (w.template.spec?.containers ?? []).find((x) => (x.env ?? []).some((e) => e.name === env));
          if (c) remove.push({ container: c.name, envName: env });
        }
      }
    }
    return { plan, carried, pods, reloads, remove };
  }

  private async reconcile(key: string, w: WorkloadEntry, fromPass: boolean): Promise<ProcessResult | void> {
    const policy = policyOf(w, this.o.policy);
    if (!isInterested(policy)) return this.skip('not-annotated');
    let retryAfterMs: number | undefined;
    const a = this.o.policy.annotations;
    const pausePeriodMs = w.kind === 'Deployment' ? this.pausePeriod(w) : undefined;
    const pausedAt = w.annotations[a.pausedAt];
    if (pausedAt && w.kind === 'Deployment') {
      const left = Date.parse(pausedAt) + (pausePeriodMs ?? 0) - Date.now();
      if (left <= 0 || Number.isNaN(left)) {
        await unpause(this.client, w, a.pausedAt);
        this.o.log.info({ workload: key }, 'pause period over, deployment resumed');
        await this.event(w, 'Normal', 'Unpaused', 'pause period over; rollout resumes');
      } else retryAfterMs = left;
    }
    const { reloads, remove } = await this.evaluate(key, w, true, fromPass);
    if (reloads.length === 0 && remove.length === 0) {
      this.skip('up-to-date');
      return retryAfterMs !== undefined ? { retryAfterMs } : undefined;
    }
    const now = Date.now();
    const last = this.lastReload.get(key);
    if (this.o.minReloadIntervalMs > 0 && last !== undefined && now - last < this.o.minReloadIntervalMs) {
      this.skip('min-interval');
      return { retryAfterMs: this.o.minReloadIntervalMs - (now - last) };
    }
    const wait = this.bucket.take(now);
    if (wait > 0) {
      this.skip('rate-limited');
      return { retryAfterMs: wait };
    }
    const stamps = reloads.map((r) => r.stamp);
    const change: TemplateChange = { set: this.o.strategy === 'env-vars' ? stamps : [], remove };
    if (this.o.strategy === 'annotations' && stamps.length > 0) {
      const s = stamps[stamps.length - 1]!;
      change.annotations = {
        [a.lastReloadedFrom]: JSON.stringify({
          type: typeWord(s.kind),
          name: s.name,
          namespace: s.namespace,
          hash: s.hash,
          containerRefs: [w.template.spec?.containers?.[s.container]?.name].filter(Boolean),
          observedAt: Math.floor(now / 1000),
        }),
      };
    }
    const what = stamps.map((s) => `${s.kind} ${s.name} (hash ${s.hash})`).join(', ') || `removed ${remove.map((r) => r.envName).join(', ')}`;
    try {
      if (this.o.webhookUrl) await this.callWebhook(w, stamps);
      else await applyReload(this.client, w, change, pausePeriodMs && !pausedAt ? { pausedAtKey: a.pausedAt, at: new Date(now) } : undefined);
    } catch (e) {
      const err = e as Error;
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.o.metrics?.reloads.inc({ success: 'false' });
      this.o.metrics?.reloadsByKind.inc({ kind: w.kind, namespace: w.namespace, success: 'false' });
      const retryable = !(err instanceof KubeError) || err.retryable;
      this.o.log.warn({ workload: key, err: err.message, attempt, retryable }, 'reload failed');
      await this.event(w, 'Warning', 'ReloadFailed', `reload for ${what} failed: ${err.message}`);
      return retryable ? { retryAfterMs: failureBackoff(attempt) } : undefined;
    }
    this.failures.delete(key);
    this.lastReload.set(key, now);
    for (const s of stamps) this.applied.set(`${key}|${cacheKey(s.kind, s.namespace, s.name)}`, s.hash);
    this.o.metrics?.reloads.inc({ success: 'true' });
    this.o.metrics?.reloadsByKind.inc({ kind: w.kind, namespace: w.namespace, success: 'true' });
    this.o.log.info({ workload: key, resources: stamps.map((s) => `${s.kind}/${s.name}`), reasons: reloads.map((r) => r.reason), removed: remove.map((r) => r.envName) }, 'reloaded');
    await this.event(w, 'Normal', 'Reloaded', `reloaded for ${what}`);
    if (this.o.alerts) {
      const err = await sendAlert(this.o.alerts, `config-reloader: ${w.kind} ${w.namespace}/${w.name} reloaded for ${what}`, { kind: w.kind, namespace: w.namespace, name: w.name });
      if (err) this.o.log.warn({ workload: key, err }, 'alert failed');
    }
    if (pausePeriodMs && !pausedAt) return { retryAfterMs: pausePeriodMs };
    return retryAfterMs !== undefined ? { retryAfterMs } : undefined;
  }

  /** Post an Event; a failure (e.g. 403) is logged, never fatal to the reload. */
  private async event(w: WorkloadEntry, type: 'Normal' | 'Warning', reason: 'Reloaded' | 'ReloadFailed' | 'Unpaused', message: string): Promise<void> {
    const err = await postEvent(this.client, w, type, reason, message, this.o.identity);
    if (err) this.o.log.warn({ workload: `${w.kind}/${w.namespace}/${w.name}`, reason, err: err.message }, 'event not recorded');
  }

  private pausePeriod(w: WorkloadEntry): number | undefined {
    const v = w.annotations[this.o.policy.annotations.pausePeriod];
    if (!v) return undefined;
    try {
      const ms = parseGoDuration(v);
      return ms > 0 ? ms : undefined;
    } catch {
      this.o.log.warn({ workload: `${w.namespace}/${w.name}`, value: v }, 'invalid pause period, ignored');
      return undefined;
    }
  }

  private async callWebhook(w: WorkloadEntry, stamps: Stamp[]): Promise<void> {
    const body = { kind: w.kind, namespace: w.namespace, name: w.name, resources: stamps.map((s) => ({ kind: s.kind, name: s.name, hash: s.hash })) };
    const status = await postJson(this.o.webhookUrl!, body, 10_000);
    if (status < 200 || status >= 300) throw new KubeError(status >= 500 ? 503 : 400, 'WebhookFailed', `webhook-url answered ${status}`);
  }

  /** Is this namespace watched (listed, not ignored, selected)? */
  watches(namespace: string): boolean {
    return this.caches.inScope(namespace);
  }

  /** What the controller sees and would do for one workload (read-only). */
  async explain(kind: WorkloadKind, namespace: string, name: string): Promise<Explanation | undefined> {
    const w = this.caches.getWorkload(kind, namespace, name);
    if (!w) return undefined;
    const key = cacheKey(kind, namespace, name);
    const interested = isInterested(policyOf(w, this.o.policy));
    const { plan, carried, pods, reloads } = await this.evaluate(key, w, true);
    return {
      workload: key,
      interested,
      follows: plan.stamps.map((s) => ({ kind: s.kind, name: s.name, hash: s.hash, envName: s.envName, container: w.template.spec?.containers?.[s.container]?.name })),
      missing: plan.missing,
      template: Object.fromEntries(carried),
      ...(pods ? { pods: Object.fromEntries(pods) } : {}),
      wouldReload: reloads.map((r) => ({ kind: r.stamp.kind, name: r.stamp.name, reason: r.reason })),
    };
  }
}
