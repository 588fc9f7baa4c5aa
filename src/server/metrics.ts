/**
 * Prometheus metrics of the HTTP layer and the `GET /metrics` route. Each app
 * has its own Registry (never prom-client's global one) so tests can build
 * many apps, and the watcher registers its metrics on the same Registry.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AdmissionResult } from '../webhook/review.ts';
import type { CertInfo } from '../certs/types.ts';

/** `invalid`: the request was refused before admission (400, 413, 415). */
export type AdmissionMetricResult = AdmissionResult | 'invalid';

const RESULTS: readonly AdmissionMetricResult[] = ['patched', 'unchanged', 'not-ours', 'cache-miss', 'error', 'invalid'];

/**
 * An admission normally takes well under a millisecond (cache reads and a
 * small JSON diff) and only a cache wait can stretch it; webhook
 * `timeoutSeconds` is at most 5 in our manifests, so 0.25 ms .. 5 s covers all.
 */
export const ADMISSION_DURATION_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface ServerMetrics {
  registry: Registry;
  admissions: Counter<'result'>;
  admissionDuration: Histogram;
}

/**
 * Register the server's metrics (and the default process metrics) on
 * `registry`. `certificate` feeds a gauge of the serving certificate's expiry.
 */
export function createServerMetrics(registry: Registry, certificate: () => CertInfo | undefined): ServerMetrics {
  collectDefaultMetrics({ register: registry });
  const admissions = new Counter({
    name: 'config_reloader_admissions_total',
    help: 'Admission requests answered on /mutate, by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  // Start every series at 0 so rate() and absent() work before the first event.
  for (const result of RESULTS) admissions.inc({ result }, 0);
  const admissionDuration = new Histogram({
    name: 'config_reloader_admission_duration_seconds',
    help: 'Time from receiving an admission request to sending the response.',
    buckets: ADMISSION_DURATION_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'config_reloader_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the serving certificate, in Unix seconds; 0 while none is loaded (an expiry alert then fires too).',
    registers: [registry],
    collect() {
      this.set((certificate()?.notAfter.getTime() ?? 0) / 1000);
    },
  });
  return { registry, admissions, admissionDuration };
}

/** `GET /metrics` in the Prometheus text format. */
export const metricsRoutes: FastifyPluginAsync<{ registry: Registry }> = async (app, opts) => {
  if (!(opts.registry instanceof Registry)) throw new Error('metrics plugin needs a prom-client Registry');
  const { registry } = opts;
  app.get('/metrics', async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
};
