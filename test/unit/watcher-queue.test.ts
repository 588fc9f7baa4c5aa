import t from 'tap';
import { WorkQueue } from '../../src/watcher/queue.ts';
import { TokenBucket } from '../../src/watcher/rate.ts';

/** Resolve when `n` calls have been recorded (bounded by the test timeout). */
function recorder() {
  const calls: string[] = [];
  let waiters: [number, () => void][] = [];
  return {
    calls,
    push(k: string) {
      calls.push(k);
      waiters = waiters.filter(([n, r]) => (calls.length >= n ? (r(), false) : true));
    },
    until(n: number) {
      return calls.length >= n ? Promise.resolve() : new Promise<void>((r) => waiters.push([n, r]));
    },
  };
}

t.test('a burst of adds within the delay is processed once', async (t) => {
  const rec = recorder();
  const q = new WorkQueue({ concurrency: 2, process: async (k) => rec.push(k) });
  for (let i = 0; i < 5; i++) q.add('a', 30);
  q.add('b', 30);
  t.equal(q.depth, 2);
  await rec.until(2);
  await q.idle();
  t.same(rec.calls.sort(), ['a', 'b']);
  await q.stop();
});

t.test('an earlier due time wins; zero delay runs now', async (t) => {
  const rec = recorder();
  const q = new WorkQueue({ concurrency: 1, process: async (k) => rec.push(k) });
  q.add('a', 10_000);
  q.add('a', 0);
  await rec.until(1);
  t.same(rec.calls, ['a']);
  await q.stop();
});

t.test('added while running: runs again after; never concurrently for one key', async (t) => {
  const rec = recorder();
  let running = 0;
  let maxRunning = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue({
    concurrency: 4,
    process: async (k) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (rec.calls.length === 0) {
        rec.push(k);
        await gate;
      } else rec.push(k);
      running--;
    },
  });
  q.add('a');
  await rec.until(1);
  q.add('a');
  q.add('a');
  release();
  await rec.until(2);
  await q.idle();
  t.same(rec.calls, ['a', 'a'], 'twice, not three times');
  t.equal(maxRunning, 1);
  await q.stop();
});

t.test('retryAfterMs re-adds; errors are reported and do not stop the queue', async (t) => {
  const rec = recorder();
  const errors: string[] = [];
  const q = new WorkQueue({
    concurrency: 1,
    process: async (k) => {
      rec.push(k);
      if (k === 'boom') throw new Error('x');
      return rec.calls.filter((c) => c === k).length < 3 ? { retryAfterMs: 5 } : undefined;
    },
    onError: (k) => errors.push(k),
  });
  q.add('r');
  q.add('boom');
  await rec.until(4);
  await q.idle();
  t.equal(rec.calls.filter((c) => c === 'r').length >= 3, true);
  t.same(errors, ['boom']);
  q.clear();
  await q.stop();
  q.add('after-stop');
  t.equal(q.depth, 0, 'nothing is queued after stop');
});

t.test('clear drops waiting keys', async (t) => {
  const q = new WorkQueue({ concurrency: 1, process: async () => undefined });
  q.add('a', 10_000);
  q.add('b', 10_000);
  t.equal(q.depth, 2);
  q.clear();
  t.equal(q.depth, 0);
  await q.stop();
});

t.test('token bucket', async (t) => {
  const b = new TokenBucket(2, 2, 0);
  t.equal(b.take(0), 0);
  t.equal(b.take(0), 0);
  t.equal(b.take(0), 500, 'empty: wait for one token at 2/s');
  t.equal(b.take(500), 0, 'refilled');
  t.equal(new TokenBucket(0).take(), 0, 'rate 0 is off');
  const slow = new TokenBucket(0.5, undefined, 0);
  t.equal(slow.take(0), 0, 'burst at least 1');
  t.equal(slow.take(0), 2000);
});

/** A one-worker queue whose worker is busy with 'blocker' until `release()`. */
async function blockedQueue() {
  const rec = recorder();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue({
    concurrency: 1,
    process: async (k) => {
      rec.push(k);
      if (k === 'blocker') await gate;
    },
  });
  q.add('blocker');
  await rec.until(1);
  return { rec, q, release };
}

t.test('high-priority keys run before a backlog of low ones; a high add lifts a waiting low key', async (t) => {
  const { rec, q, release } = await blockedQueue();
  for (const k of ['l1', 'l2', 'l3', 'lifted']) q.add(k, 0, 'low');
  q.add('change', 0, 'high');
  q.add('lifted', 0, 'high');
  q.add('l1', 0, 'low'); // already waiting: no change
  t.equal(q.depth, 6);
  release();
  await rec.until(6);
  await q.idle();
  t.same(rec.calls, ['blocker', 'change', 'lifted', 'l1', 'l2', 'l3']);
  await q.stop();
});

t.test('a debounced high add keeps its priority when a low add for the same key comes later', async (t) => {
  const { rec, q, release } = await blockedQueue();
  q.add('low-first', 0, 'low');
  q.add('a', 20, 'high');
  q.add('a', 0, 'low'); // sooner but low: ready now, and still high
  release();
  await rec.until(3);
  await q.idle();
  t.same(rec.calls, ['blocker', 'a', 'low-first']);
  await q.stop();
});

t.test('low keys are paced (lowPerSecond, bursts of a tenth of a second); high keys are not', async (t) => {
  const started: { key: string; at: number }[] = [];
  const q = new WorkQueue({
    concurrency: 4,
    lowPerSecond: 100, // bursts of 10
    process: async (key) => {
      started.push({ key, at: Date.now() });
    },
  });
  const t0 = Date.now();
  for (let i = 0; i < 30; i++) q.add(`low-${i}`, 0, 'low');
  q.add('high', 0, 'high');
  await q.idle();
  const elapsed = Date.now() - t0;
  t.equal(started.length, 31);
  t.ok(started.findIndex((s) => s.key === 'high') <= 10, 'the high key started within the first burst, not behind the paced ones');
  // 10 at once, then 20 more at 100/s: at least ~200 ms, far from the 0 ms unpaced
  t.ok(elapsed >= 150, `30 low keys at 100/s took ${elapsed} ms`);
  t.same(started.filter((s) => s.key.startsWith('low-')).map((s) => s.key), Array.from({ length: 30 }, (_, i) => `low-${i}`), 'in order');
  await q.stop();
});

t.test('stop() while low keys wait for pacing: nothing more starts, no timer left behind', async (t) => {
  const started: string[] = [];
  const q = new WorkQueue({ concurrency: 1, lowPerSecond: 10, process: async (key) => void started.push(key) });
  for (let i = 0; i < 5; i++) q.add(`k${i}`, 0, 'low');
  await q.stop();
  const n = started.length;
  await new Promise((r) => setTimeout(r, 250));
  t.equal(started.length, n, 'nothing started after stop');
  t.ok(n <= 1, 'only the first burst (1 at 10/s) started');
});
