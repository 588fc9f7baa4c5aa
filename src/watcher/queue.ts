/**
 * A keyed, delayed work queue (client-go's workqueue, reduced to what we
 * need): a key is processed by at most one worker at a time; adding a key
 * that is already waiting keeps the earlier due time (so a burst of changes
 * inside the debounce window is processed once); adding a key while it is
 * being processed runs it again afterwards.
 */

/** What processing a key asks for next. */
export interface ProcessResult {
  /** Process the key again after this many ms (rate limit, min interval, backoff, pause expiry). */
  retryAfterMs?: number;
}

export interface QueueOptions {
  concurrency: number;
  /**
   * At most this many `low` keys started per second (0: unpaced), in bursts
   * of a tenth of a second's worth. `high` keys are never paced.
   */
  lowPerSecond?: number;
  process(key: string): Promise<ProcessResult | void>;
  onError?(key: string, err: unknown): void;
}

/**
 * `high` for keys from real changes; `low` for the start-up, leader-change
 * and resync passes over every workload. A change must not wait behind a
 * pass over 10,000 workloads (measured: 49 s with one FIFO).
 */
export type Priority = 'high' | 'low';

/** Keyed delayed work queue with two priorities. */
export class WorkQueue {
  private readonly o: QueueOptions;
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout; priority: Priority }>();
  private readonly ready: Record<Priority, string[]> = { high: [], low: [] };
  /** key → the ready list it is in. */
  private readonly readySet = new Map<string, Priority>();
  private readonly active = new Set<string>();
  /** key → delay to re-add with once its current processing ends. */
  private readonly dirty = new Map<string, number>();
  private running = 0;
  private stopped = false;
  /** Pacing of `low` keys: tokens left, when last refilled, the timer that pumps once one is due. */
  private lowTokens = 0;
  private lowRefilledAt = 0;
  private lowTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: QueueOptions) {
    this.o = opts;
  }

  /** Keys waiting or running (a gauge). */
  get depth(): number {
    return this.timers.size + this.ready.high.length + this.ready.low.length + this.active.size;
  }

  /**
   * Schedule `key` in `delayMs`, unless it is already due sooner at the same
   * or a higher priority. A `high` add lifts a key waiting as `low`.
   */
  add(key: string, delayMs = 0, priority: Priority = 'high'): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      const d = this.dirty.get(key);
      this.dirty.set(key, d === undefined ? delayMs : Math.min(d, delayMs));
      return;
    }
    const inReady = this.readySet.get(key);
    if (inReady === 'high' || (inReady === 'low' && priority === 'low')) return;
    if (inReady === 'low') {
      // lifted: out of the low list, scheduled below as high
      this.ready.low.splice(this.ready.low.indexOf(key), 1);
      this.readySet.delete(key);
    }
    const due = Date.now() + Math.max(0, delayMs);
    const t = this.timers.get(key);
    if (t && t.due <= due && (t.priority === 'high' || priority === 'low')) return;
    const p: Priority = t?.priority === 'high' ? 'high' : priority;
    if (t) clearTimeout(t.timer);
    if (delayMs <= 0) {
      this.timers.delete(key);
      this.makeReady(key, p);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.makeReady(key, p);
    }, delayMs);
    this.timers.set(key, { due, timer, priority: p });
  }

  /** Drop every waiting key (on losing leadership). Running ones finish. */
  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.ready.high.length = 0;
    this.ready.low.length = 0;
    this.readySet.clear();
    this.dirty.clear();
    if (this.lowTimer) clearTimeout(this.lowTimer);
    this.lowTimer = undefined;
  }

  /** Stop: clear timers and wait for running work. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clear();
    await this.idle();
  }

  /** Resolves when nothing is running or ready (timers may still wait). */
  idle(): Promise<void> {
    if (this.running === 0 && this.readyCount() === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private readyCount(): number {
    return this.ready.high.length + this.ready.low.length;
  }

  private makeReady(key: string, priority: Priority): void {
    if (this.readySet.has(key)) return;
    this.ready[priority].push(key);
    this.readySet.set(key, priority);
    this.pump();
  }

  /** May a `low` key start now? Takes a token if so; else arms a timer for when one is due. */
  private takeLowToken(): boolean {
    const rate = this.o.lowPerSecond ?? 0;
    if (rate <= 0) return true;
    const now = Date.now();
    const burst = Math.max(1, rate / 10);
    this.lowTokens = Math.min(burst, this.lowTokens + ((now - this.lowRefilledAt) * rate) / 1000);
    this.lowRefilledAt = now;
    if (this.lowTokens >= 1) {
      this.lowTokens -= 1;
      return true;
    }
    this.lowTimer ??= setTimeout(
      () => {
        this.lowTimer = undefined;
        this.pump();
      },
      Math.max(1, Math.ceil(((1 - this.lowTokens) * 1000) / rate)),
    );
    return false;
  }

  private pump(): void {
    while (!this.stopped && this.running < this.o.concurrency && this.readyCount() > 0) {
      if (this.ready.high.length === 0 && !this.takeLowToken()) break;
      const key = (this.ready.high.length > 0 ? this.ready.high : this.ready.low).shift()!;
      this.readySet.delete(key);
      if (this.active.has(key)) {
        this.dirty.set(key, 0);
        continue;
      }
      this.active.add(key);
      this.running++;
      void this.run(key);
    }
    if (this.running === 0 && this.readyCount() === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async run(key: string): Promise<void> {
    let retry: number | undefined;
    try {
      const r = await this.o.process(key);
      retry = r?.retryAfterMs;
    } catch (e) {
      this.o.onError?.(key, e);
    } finally {
      this.active.delete(key);
      this.running--;
      const d = this.dirty.get(key);
      this.dirty.delete(key);
      if (d !== undefined || retry !== undefined) this.add(key, Math.min(d ?? Infinity, retry ?? Infinity));
      this.pump();
    }
  }
}
