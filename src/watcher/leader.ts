/**
 * Leader election on a coordination.k8s.io/v1 Lease in our own namespace,
 * with Reloader's timings (lease 15 s, renew deadline 10 s, retry 2 s).
 * Expiry is judged on the local clock from when this replica last saw the
 * Lease change (as client-go does), so clock skew between nodes cannot make
 * two leaders.
 */
import { KubeError, type KubeClient } from './kube-client.ts';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Micro-time as the Lease API wants it (RFC 3339 with microseconds). */
function microTime(d: Date): string {
  return d.toISOString().replace('Z', '000Z');
}

export class LeaderElector {
  private readonly o: LeaderOptions;
  private readonly client: KubeClient;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private observed: { record: string; at: number } | undefined;
  private lastRenew = 0;

  constructor(client: KubeClient, opts: LeaderOptions) {
    this.client = client;
    this.o = opts;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases`;
  }

  start(): void {
    void this.tick();
  }

  private schedule(): void {
    if (this.stopped) return;
    // jitter retries by up to 20% so replicas do not race in lockstep
    this.timer = setTimeout(() => void this.tick(), this.o.retryPeriodMs * (1 + Math.random() * 0.2));
  }

  private async tick(): Promise<void> {
    try {
      await this.tryAcquireOrRenew();
    } catch (e) {
      this.o.log?.warn({ err: (e as Error).message }, 'leader election request failed');
    }
    if (this.leading && Date.now() - this.lastRenew > this.o.renewDeadlineMs) {
      this.o.log?.warn({ lease: this.o.name }, 'could not renew the lease in time; stepping down');
      this.setLeading(false);
    }
    this.schedule();
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    this.o.log?.info({ lease: this.o.name, identity: this.o.identity }, v ? 'became leader' : 'lost leadership');
    if (v) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = new Date();
    let lease: Lease | undefined;
    try {
      lease = await this.client.request<Lease>('GET', `${this.path}/${encodeURIComponent(this.o.name)}`);
    } catch (e) {
      if (!(e instanceof KubeError) || e.status !== 404) throw e;
    }
    const spec = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.round(this.o.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await this.client.request('POST', this.path, {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 } },
        });
      } catch (e) {
        if (e instanceof KubeError && e.status === 409) return; // another replica created it first
        throw e;
      }
      this.lastRenew = Date.now();
      this.setLeading(true);
      return;
    }
    const record = JSON.stringify(lease.spec);
    if (!this.observed || this.observed.record !== record) this.observed = { record, at: Date.now() };
    const holder = lease.spec.holderIdentity ?? '';
    const duration = (lease.spec.leaseDurationSeconds ?? 15) * 1000;
    const expired = holder === '' || Date.now() > this.observed.at + duration;
    if (holder !== this.o.identity && !expired) {
      this.setLeading(false);
      return;
    }
    const next: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        ...(holder !== this.o.identity ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    try {
      await this.client.request('PUT', `${this.path}/${encodeURIComponent(this.o.name)}`, { body: next });
    } catch (e) {
      if (e instanceof KubeError && e.status === 409) return; // lost a race; look again next tick
      throw e;
    }
    this.lastRenew = Date.now();
    this.setLeading(true);
  }

  /** Stop; when leading, release the Lease so a successor need not wait for expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.client.request<Lease>('GET', `${this.path}/${encodeURIComponent(this.o.name)}`);
      if (lease.spec.holderIdentity !== this.o.identity) return;
      await this.client.request('PUT', `${this.path}/${encodeURIComponent(this.o.name)}`, {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(new Date()) } },
      });
    } catch (e) {
      this.o.log?.warn({ err: (e as Error).message }, 'could not release the lease');
    }
  }
}
