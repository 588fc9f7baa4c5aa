/**
 * Load generator for bench/mutate.ts, run as a forked child so that it never
 * shares the server's event loop. Receives a LoadConfig over IPC, sends back
 * `{ phase: 'start' | 'end' }` around the measured phase, then a LoadResult,
 * and exits.
 *
 * Two modes:
 * - `max`: closed loop, `connections` keep-alive connections each sending the
 *   next request as soon as the previous answer arrived (throughput).
 * - `rate`: open loop at a fixed rate; latency is measured from the moment a
 *   request is dispatched (the scheduler's own timer lateness is reported as
 *   the achieved rate, not charged to the server).
 */
import { createHistogram } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface LoadConfig {
  origin: string;
  servername: string;
  ca: string;
  body: string;
  connections: number;
  mode: 'max' | 'rate';
  /** Requests per second, for `rate`. */
  rate?: number;
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult {
  mode: 'max' | 'rate';
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

async function run(cfg: LoadConfig): Promise<LoadResult> {
  const pool = new Pool(cfg.origin, {
    connections: cfg.connections,
    pipelining: 1,
    connect: { ca: cfg.ca, servername: cfg.servername, rejectUnauthorized: true },
  });
  const headers = { 'content-type': 'application/json' };
  const hist = createHistogram();
  let recording = false;
  let requests = 0;
  let errors = 0;

  async function one(): Promise<void> {
    const start = process.hrtime.bigint();
    try {
      const res = await pool.request({ method: 'POST', path: '/mutate', headers, body: cfg.body });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes('"allowed":true')) errors += recording ? 1 : 0;
    } catch {
      errors += recording ? 1 : 0;
    }
    if (recording) {
      hist.record(Math.max(1, Number(process.hrtime.bigint() - start)));
      requests++;
    }
  }

  const phase = async (ms: number, record: boolean): Promise<number> => {
    recording = record;
    const begin = performance.now();
    const end = begin + ms;
    if (cfg.mode === 'max') {
      const worker = async () => {
        while (performance.now() < end) await one();
      };
      await Promise.all(Array.from({ length: cfg.connections }, worker));
    } else {
      const interval = 1000 / (cfg.rate ?? 500);
      const inflight = new Set<Promise<void>>();
      let sent = 0;
      while (performance.now() < end) {
        // Fire every request that is due, then sleep until the next one is.
        while (begin + sent * interval <= performance.now()) {
          const p = one().finally(() => inflight.delete(p));
          inflight.add(p);
          sent++;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, begin + sent * interval - performance.now())));
      }
      await Promise.all(inflight);
    }
    return (performance.now() - begin) / 1000;
  };

  await phase(cfg.warmupMs, false);
  // Tell the parent (the server's process) when the measured phase runs, so it can read its own CPU time.
  process.send!({ phase: 'start' });
  const seconds = await phase(cfg.durationMs, true);
  process.send!({ phase: 'end' });
  await pool.close();
  const ms = (p: number) => hist.percentile(p) / 1e6;
  return { mode: cfg.mode, requests, errors, seconds, rps: requests / seconds, p50Ms: ms(50), p90Ms: ms(90), p99Ms: ms(99), maxMs: hist.max / 1e6 };
}

process.once('message', (cfg: LoadConfig) => {
  run(cfg).then(
    (result) => process.send!(result, () => process.exit(0)),
    (err: Error) => {
      console.error(err);
      process.exit(1);
    },
  );
});
