/**
 * A resilient list/watch loop (a "reflector") for one resource type.
 *
 * @kubernetes/client-node's informer stops on most errors and keeps whole
 * objects; this one restarts on any error with capped exponential backoff,
 * relists on 410 Gone, relists a watch that has gone silent (watchdog), lists
 * with pagination so a relist of 100 MB of Secrets never sits in memory at
 * once, and keeps only what `transform` returns, in a store by namespace and
 * name that the caches own (one per kind, shared by the reflectors of that
 * kind when the watch is limited to some namespaces).
 */
import type { KubeClient, Query, WatchEvent } from './kube-client.ts';
import type { ListGate } from './list-gate.ts';
import { KindStore } from './store.ts';

/** Handlers and knobs of one reflector. */
export interface ReflectorOptions<T> {
  /** Short name for logs and metrics, e.g. `configmaps`. */
  name: string;
  /** Collection path, e.g. `/api/v1/configmaps` or `/apis/apps/v1/namespaces/a/deployments`. */
  path: string;
  /** labelSelector / fieldSelector. */
  query?: Query;
  /**
   * LIST page size (`limit`): 100 lists 10k objects in 100 round trips
   * (~1 s on loopback); the caches ask for 25 Secrets per page (see Caches).
   */
  pageSize: number;
  /** Shared by the reflectors of a process: one LIST page in flight at a time. */
  gate?: ListGate;
  /**
   * Where the objects are kept. Several reflectors may share one store (one
   * per namespace of a kind with `--namespaces`); each then lists and sweeps
   * only its own `namespace`. Default: a store of its own.
   */
  store?: KindStore<T>;
  /** The one namespace this reflector lists, for a namespaced `path`; undefined = all. */
  namespace?: string;
  /** Reduce a raw object to what we keep; undefined drops it. */
  transform(raw: Record<string, unknown>): T | undefined;
  /**
   * True when `next` is, for every reader, the same as the stored `old`: the
   * store then keeps `old` (what the caller indexed) and onUpsert is not called.
   */
  unchanged?(old: T, next: T): boolean;
  /** Called for every object seen by a list or a watch (after the store holds it). `initial` is true during the first list. */
  onUpsert(value: T, old: T | undefined, initial: boolean): void;
  /** Called after an object left the store. */
  onDelete(old: T): void;
  /** Called once, after the first complete list. */
  onSynced?(): void;
  /** Called on every restart of the loop, with the reason. */
  onRestart?(reason: string): void;
  /** Server-side watch timeout; the watch is then reopened from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  /**
   * Watchdog: a watch with no line (event or bookmark) for this long is
   * dropped and the collection relisted. The API server sends a bookmark about
   * once a minute when asked, so 3 minutes of silence means a dead stream.
   */
  silenceMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  log?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

/** Namespace ('' when cluster-scoped) and name of a raw object. */
function idOf(raw: Record<string, unknown>): [string, string] {
  const m = (raw.metadata ?? {}) as { namespace?: string; name?: string };
  return [m.namespace ?? '', m.name ?? ''];
}

function rvOf(raw: Record<string, unknown>): string | undefined {
  return ((raw.metadata ?? {}) as { resourceVersion?: string }).resourceVersion;
}

/** A list/watch loop that keeps a store of transformed objects. */
export class Reflector<T> {
  readonly store: KindStore<T>;
  private readonly o: ReflectorOptions<T>;
  private readonly client: KubeClient;
  private stopped = false;
  private abort: AbortController | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private syncedOnce = false;
  private syncWaiters: (() => void)[] = [];
  /** Restarts since start (for tests and metrics). */
  restarts = 0;

  constructor(client: KubeClient, opts: ReflectorOptions<T>) {
    this.client = client;
    this.o = opts;
    this.store = opts.store ?? new KindStore<T>();
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  /** Resolves after the first complete list. */
  whenSynced(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stop watching; resolves once the loop has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let rv = '';
    let backoff = this.o.backoffInitialMs ?? 500;
    while (!this.stopped) {
      try {
        if (!rv) rv = await this.relist();
        rv = await this.watchOnce(rv);
        backoff = this.o.backoffInitialMs ?? 500;
      } catch (e) {
        if (this.stopped) break;
        this.restarts++;
        const reason = (e as Error).message;
        this.o.onRestart?.(reason);
        this.o.log?.warn({ reflector: this.o.name, err: reason, backoffMs: backoff }, 'watch failed, restarting');
        // Relist after an error: the resourceVersion may be too old, and a
        // relist is what heals a cache that missed events.
        rv = '';
        await this.sleep(backoff * (0.8 + Math.random() * 0.4));
        backoff = Math.min(backoff * 2, this.o.backoffMaxMs ?? 30_000);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }

  /** Paginated LIST; reconciles the store with it; returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    const initial = !this.syncedOnce;
    // namespace → names listed (the name strings are the entries' own)
    const seen = new Map<string, Set<string>>();
    let cont: string | undefined;
    let rv = '';
    do {
      const fetchPage = () => this.client.listPage(this.o.path, { ...this.o.query, limit: this.o.pageSize, continue: cont });
      const page = await (this.o.gate ? this.o.gate.run(fetchPage) : fetchPage());
      for (const raw of page.items) {
        const [ns, name] = idOf(raw);
        const v = this.o.transform(raw);
        if (v === undefined) continue;
        let names = seen.get(ns);
        if (!names) seen.set(ns, (names = new Set()));
        names.add(name);
        this.upsert(ns, name, v, initial);
      }
      rv = page.resourceVersion;
      cont = page.continue;
      if (this.stopped) return rv;
    } while (cont);
    // Only this reflector's scope: the store may hold other namespaces' reflectors' objects.
    for (const [ns, name, old] of this.store.entries(this.o.namespace)) {
      if (!seen.get(ns)?.has(name)) {
        this.store.delete(ns, name);
        this.o.onDelete(old);
      }
    }
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      this.o.onSynced?.();
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return rv;
  }

  private upsert(ns: string, name: string, v: T, initial: boolean): void {
    const old = this.store.get(ns, name);
    if (old !== undefined && this.o.unchanged?.(old, v)) return;
    this.store.set(ns, name, v);
    this.o.onUpsert(v, old, initial);
  }

  /** Watch from `rv` until the server closes the stream; returns the last rv, or '' to relist. */
  private async watchOnce(rv: string): Promise<string> {
    const abort = new AbortController();
    this.abort = abort;
    const silenceMs = this.o.silenceMs ?? 180_000;
    let silent = false;
    let watchdog = setTimeout(() => {
      silent = true;
      abort.abort();
    }, silenceMs);
    let last = rv;
    let gone = false;
    const timeout = this.o.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
    try {
      await this.client.watch(
        this.o.path,
        { ...this.o.query, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: timeout },
        (e: WatchEvent) => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => {
            silent = true;
            abort.abort();
          }, silenceMs);
          if (e.type === 'ERROR') {
            // 410 Gone: our resourceVersion is too old; anything else: relist too.
            gone = true;
            abort.abort();
            return;
          }
          const newRv = rvOf(e.object);
          if (newRv) last = newRv;
          if (e.type === 'BOOKMARK') return;
          const [ns, name] = idOf(e.object);
          const v = e.type === 'DELETED' ? undefined : this.o.transform(e.object);
          if (v === undefined) {
            const old = this.store.delete(ns, name);
            if (old !== undefined) this.o.onDelete(old);
            return;
          }
          this.upsert(ns, name, v, false);
        },
        abort.signal,
      );
    } finally {
      clearTimeout(watchdog);
    }
    if (silent) {
      this.restarts++;
      this.o.onRestart?.('watch silent');
      this.o.log?.warn({ reflector: this.o.name, silenceMs }, 'watch went silent, relisting');
      return '';
    }
    if (gone) {
      this.o.log?.debug({ reflector: this.o.name }, 'watch expired (410), relisting');
      return '';
    }
    return last;
  }
}
