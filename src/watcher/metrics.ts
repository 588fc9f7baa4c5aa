/**
 * The watcher's Prometheus metrics, on the server's Registry. Reloader's
 * `reloader_reload_executed_total{success}` keeps existing dashboards and
 * alerts working; the rest are ours.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface WatcherMetrics {
  reloads: Counter<'success'>;
  reloadsByKind: Counter<'kind' | 'namespace' | 'success'>;
  reconcileDuration: Histogram;
  queueDepth: Gauge;
  skipped: Counter<'reason'>;
  informerRestarts: Counter<'reflector'>;
  leader: Gauge;
}

/** Register the watcher's metrics; `queueDepth` reads the queue on scrape. */
export function createWatcherMetrics(registry: Registry, depth: () => number): WatcherMetrics {
  const reloads = new Counter({
    name: 'reloader_reload_executed_total',
    help: 'Reloads executed (stakater/Reloader compatible), by success.',
    labelNames: ['success'],
    registers: [registry],
  });
  reloads.inc({ success: 'true' }, 0);
  reloads.inc({ success: 'false' }, 0);
  return {
    reloads,
    reloadsByKind: new Counter({
      name: 'config_reloader_reloads_total',
      help: 'Reloads by workload kind, namespace and success.',
      labelNames: ['kind', 'namespace', 'success'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'config_reloader_reconcile_duration_seconds',
      help: 'Time of one reconcile of a workload, API calls included.',
      // a no-op reconcile is microseconds; a patch is a few ms on a healthy API server
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'config_reloader_queue_depth',
      help: 'Workloads waiting for or in reconcile.',
      registers: [registry],
      collect() {
        this.set(depth());
      },
    }),
    skipped: new Counter({
      name: 'config_reloader_reconcile_skipped_total',
      help: 'Reconciles that changed nothing, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    informerRestarts: new Counter({
      name: 'config_reloader_informer_restarts_total',
      help: 'List/watch restarts (errors, 410 Gone, silent watches), by reflector.',
      labelNames: ['reflector'],
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'config_reloader_leader',
      help: '1 while this replica holds the leader Lease (or runs without HA).',
      registers: [registry],
    }),
  };
}
