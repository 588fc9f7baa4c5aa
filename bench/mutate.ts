/**
 * Benchmark of POST /mutate over HTTPS (prints numbers; not a test).
 *
 *   node bench/mutate.ts [--duration 10] [--rate 500] [--rate-duration 10]
 *                        [--connections 16] [--warmup 2] [--rounds 1] [--real]
 *
 * Two servers in this process, one after the other, each on 127.0.0.1 with a
 * certificate from our CA:
 *   bare  a plain Fastify 5 HTTPS server that parses the body and answers
 *         `allowed: true` with the uid (the ceiling for Node + TLS + JSON);
 *   ours  the server from `build()`, with the simple admit below or, with
 *         --real, the webhook's createAdmissionHandler over a map-backed cache.
 * The load generator (bench/load.ts) runs in a forked child: it never shares
 * the server's event loop. Loopback only; stops by itself (about 50 s per
 * round with the defaults). On a shared machine, `--rounds 3` alternates the
 * servers three times and judges the medians.
 *
 * Targets: ours ≥ 50 % of bare's req/s with p99 ≤ 10 ms at max load, and
 * p99 ≤ 2 ms at a fixed 500 req/s.
 */
import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { createCA, createServingCert } from '../src/certs/issue.ts';
import { build } from '../src/server/app.ts';
import { createLogger } from '../src/server/logger.ts';
import type { Admit } from '../src/server/mutate.ts';
import { allow, parseReview } from '../src/webhook/review.ts';
import type { LoadConfig, LoadResult } from './load.ts';
import { realAdmit } from './real-admit.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rate: { type: 'string', default: '500' },
    'rate-duration': { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '1' },
    real: { type: 'boolean', default: false },
  },
});
const num = (name: keyof typeof args) => {
  const n = Number(args[name]);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
  return n;
};
const durationMs = num('duration') * 1000;
const rate = num('rate');
const rateDurationMs = num('rate-duration') * 1000;
const connections = num('connections');
const warmupMs = num('warmup') * 1000;
const rounds = Math.round(num('rounds'));

const SERVICE_DNS = 'config-reloader.config-reloader.svc';
const fixture = JSON.parse(await readFile(new URL('./fixtures/pod-admission-review.json', import.meta.url), 'utf8')) as unknown;
// The API server sends compact JSON.
const body = JSON.stringify(fixture);

const ca = await createCA({ commonName: 'bench-ca', validityDays: 2 });
const tls = await createServingCert({ ca, dnsNames: [SERVICE_DNS], ipAddresses: ['127.0.0.1'], validityDays: 1 });

/** The simple admission: validate the review, allow without a patch. */
const simpleAdmit: Admit = async (b) => {
  const r = parseReview(b);
  return r.ok ? { status: 200, review: allow(r.review.request.uid), result: 'not-ours' } : { status: 400, message: r.message };
};

function bare() {
  const app = Fastify({ https: { cert: tls.cert, key: tls.key }, logger: false });
  app.post('/mutate', async (req) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: (req.body as { request: { uid: string } }).request.uid, allowed: true },
  }));
  return app;
}

/** Server-side cost: CPU time of this process (the server's) per measured request. */
export interface Measured extends LoadResult {
  cpuUsPerRequest: number;
}

function load(port: number, mode: 'max' | 'rate'): Promise<Measured> {
  const cfg: LoadConfig = {
    origin: `https://127.0.0.1:${port}`,
    servername: SERVICE_DNS,
    ca: ca.cert,
    body,
    connections,
    mode,
    rate,
    warmupMs: mode === 'max' ? warmupMs : Math.min(warmupMs, 1000),
    durationMs: mode === 'max' ? durationMs : rateDurationMs,
  };
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./load.ts', import.meta.url), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: LoadResult | undefined;
    let cpuStart: NodeJS.CpuUsage | undefined;
    let cpu: NodeJS.CpuUsage | undefined;
    child.on('message', (m: LoadResult | { phase: 'start' | 'end' }) => {
      if (!('phase' in m)) result = m;
      else if (m.phase === 'start') cpuStart = process.cpuUsage();
      else cpu = process.cpuUsage(cpuStart);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!result || !cpu) return reject(new Error(`load generator exited with ${code}`));
      resolve({ ...result, cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, result.requests) });
    });
    child.send(cfg);
  });
}

async function measure(name: string, app: { listen(o: { host: string; port: number }): Promise<string>; close(): Promise<unknown>; server: { address(): unknown } }) {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  try {
    const max = await load(port, 'max');
    const fixed = await load(port, 'rate');
    return { name, max, fixed };
  } finally {
    await app.close();
  }
}

const admit = args.real ? realAdmit(fixture) : simpleAdmit;
console.log(
  `POST /mutate, ${body.length} B AdmissionReview, ${connections} keep-alive connections, ` +
    `max load ${durationMs / 1000} s, fixed ${rate} req/s ${rateDurationMs / 1000} s, admit: ${args.real ? 'real' : 'simple'}`,
);
type Row = { name: string; max: Measured; fixed: Measured };
const rows: Row[] = [];
for (let round = 0; round < rounds; round++) {
  rows.push(await measure('bare fastify', bare()));
  rows.push(await measure('config-reloader', build({ admit, ready: () => true, tls, logger: createLogger({ level: 'warn' }) })));
}

/** Per-field median of several results (the middle run, field by field). */
function median(results: Measured[]): Measured {
  const mid = (f: (r: Measured) => number) => results.map(f).sort((a, b) => a - b)[Math.floor(results.length / 2)]!;
  return {
    ...results[0]!,
    requests: mid((r) => r.requests),
    errors: mid((r) => r.errors),
    rps: mid((r) => r.rps),
    p50Ms: mid((r) => r.p50Ms),
    p90Ms: mid((r) => r.p90Ms),
    p99Ms: mid((r) => r.p99Ms),
    maxMs: mid((r) => r.maxMs),
    cpuUsPerRequest: mid((r) => r.cpuUsPerRequest),
  };
}
const summary = (name: string): Row => {
  const mine = rows.filter((r) => r.name === name);
  return { name: rounds > 1 ? `${name} (median)` : name, max: median(mine.map((r) => r.max)), fixed: median(mine.map((r) => r.fixed)) };
};
const [b, o] = [summary('bare fastify'), summary('config-reloader')];

const f = (n: number) => n.toFixed(2).padStart(7);
console.log(
  `\n${'server'.padEnd(25)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'max ms'.padStart(7)} ${'cpu µs/req'.padStart(10)} errors | ` +
    `@${rate}/s: ${'req/s'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} errors`,
);
for (const { name, max, fixed } of [...(rounds > 1 ? rows : []), b, o]) {
  console.log(
    `${name.padEnd(25)} ${max.rps.toFixed(0).padStart(8)} ${f(max.p50Ms)} ${f(max.p99Ms)} ${f(max.maxMs)} ${max.cpuUsPerRequest.toFixed(1).padStart(10)} ${String(max.errors).padStart(6)} | ` +
      `${' '.repeat(String(rate).length + 3)}${fixed.rps.toFixed(0).padStart(6)} ${f(fixed.p50Ms)} ${f(fixed.p99Ms)} ${String(fixed.errors).padStart(6)}`,
  );
}
const verdict = (ok: boolean) => (ok ? 'ok  ' : 'MISS');
console.log(`\n${verdict(o.max.rps >= b.max.rps / 2)} ours ≥ 50 % of bare req/s: ${((100 * o.max.rps) / b.max.rps).toFixed(0)} %`);
// Throughput swings with whatever else runs on the machine; server CPU per request does not.
console.log(
  `     server CPU per request at max load: ours ${o.max.cpuUsPerRequest.toFixed(1)} µs, bare ${b.max.cpuUsPerRequest.toFixed(1)} µs ` +
    `(ours would reach ${((100 * b.max.cpuUsPerRequest) / o.max.cpuUsPerRequest).toFixed(0)} % of bare's req/s on equal CPU)`,
);
console.log(`${verdict(o.max.p99Ms <= 10)} ours p99 ≤ 10 ms at max load: ${o.max.p99Ms.toFixed(2)} ms`);
console.log(`${verdict(o.fixed.p99Ms <= 2)} ours p99 ≤ 2 ms at ${rate} req/s: ${o.fixed.p99Ms.toFixed(2)} ms`);
