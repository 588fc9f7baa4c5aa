/**
 * What one API call costs through the product's own client
 * (src/watcher/kube-client.ts `KubeClient.request`): sequential GETs of one
 * object, latency and the CPU this process spends per call, as shipped and
 * since the fix of finding 1 (bench/README.md) with one reused undici
 * dispatcher; before it, every call built a new Agent (a new TCP + TLS
 * handshake and SecureContext).
 */
import { KubeClient } from '../../src/watcher/kube-client.ts';
import { kubeconfigCredentials } from '../../src/watcher/kubeconfig.ts';
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

/** `n` sequential GETs of `path` through the product client (one shared connection pool since the fix). */
export async function clientProbe(kubeconfigPath: string, path: string, n = 100): Promise<ProbeResult[]> {
  const client = new KubeClient(await kubeconfigCredentials(kubeconfigPath));
  const lat: number[] = [];
  for (let i = 0; i < 5; i++) await client.request('GET', path); // untimed warm-up
  const cpu = await probe(client, path, n, lat);
  return [{ variant: 'as shipped (node:https, one keep-alive pool)', latency: summarize(lat), cpuMs: cpu / lat.length }];
}
