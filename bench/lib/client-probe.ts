/**
 * What one API call costs through the product's own client
 * (src/watcher/kube-client.ts `KubeClient.request`): sequential GETs of one
 * object, latency and the CPU this process spends per call, as shipped and
 * with one reused undici dispatcher. As shipped, every request goes through
 * `KubeConfig.applySecurityAuthentication`, which builds a new undici Agent
 * (so a new TCP + TLS handshake with a client certificate, and a new
 * SecureContext) for each call; the "reused" variant wraps the private
 * `prepare` to hand every request the first call's dispatcher: the change we
 * suggest for src/.
 */
import type { Dispatcher } from 'undici';
import { KubeClient, loadKubeConfig } from '../../src/watcher/kube-client.ts';
import { summarize, type Summary } from './stats.ts';

export interface ProbeResult {
  variant: string;
  latency: Summary;
  /** CPU (user + system) of this process per call, ms. */
  cpuMs: number;
}

async function probe(client: KubeClient, path: string, n: number, lat: number[]): Promise<number> {
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.request('GET', path);
    lat.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000;
}

/** Compare the two variants on `path` (an object GET), `n` calls each, in alternating rounds. */
export async function clientProbe(kubeconfigPath: string, path: string, n = 100, rounds = 4): Promise<ProbeResult[]> {
  const asShipped = new KubeClient(loadKubeConfig(kubeconfigPath));
  const reused = new KubeClient(loadKubeConfig(kubeconfigPath));
  type Ctx = { getDispatcher(): Dispatcher | undefined; setDispatcher(d: Dispatcher): void };
  const r = reused as unknown as { prepare(u: URL, m: string): Promise<Ctx> };
  const prepare = r.prepare.bind(reused);
  let shared: Dispatcher | undefined;
  r.prepare = async (u, m) => {
    const ctx = await prepare(u, m);
    const d = ctx.getDispatcher();
    if (shared) ctx.setDispatcher(shared);
    else shared = d;
    return ctx;
  };
  const variants = [
    { variant: 'as shipped (new Agent per request)', client: asShipped, lat: [] as number[], cpu: 0 },
    { variant: 'one reused dispatcher', client: reused, lat: [] as number[], cpu: 0 },
  ];
  // untimed warm-up calls (module and JIT warm-up)
  for (const v of variants) for (let i = 0; i < 5; i++) await v.client.request('GET', path);
  const per = Math.max(1, Math.round(n / rounds));
  for (let round = 0; round < rounds; round++) for (const v of variants) v.cpu += await probe(v.client, path, per, v.lat);
  await (shared as { close?: () => Promise<void> } | undefined)?.close?.();
  return variants.map((v) => ({ variant: v.variant, latency: summarize(v.lat), cpuMs: v.cpu / v.lat.length }));
}
