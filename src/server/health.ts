/**
 * Probes: `/healthz` and `/live` (the process answers: liveness), and
 * `/readyz` (caches synced and a certificate loaded: send us admissions).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { CertInfo } from '../certs/types.ts';

export interface HealthOptions {
  /** True once the caches have synced. */
  ready: () => boolean;
  /** The certificate being served, undefined while there is none. */
  certificate: () => CertInfo | undefined;
}

/** Register the three probe routes; they answer text/plain. */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  if (typeof opts.ready !== 'function') throw new Error('health plugin needs a ready() function');
  if (typeof opts.certificate !== 'function') throw new Error('health plugin needs a certificate() function');
  const { ready, certificate } = opts;

  const ok = async () => 'ok';
  app.get('/healthz', ok);
  app.get('/live', ok);

  app.get('/readyz', async (request, reply) => {
    const missing: string[] = [];
    let synced = false;
    try {
      synced = ready() === true;
    } catch (err) {
      request.log.warn({ err }, 'readiness check threw');
    }
    if (!synced) missing.push('caches not synced');
    if (certificate() === undefined) missing.push('no serving certificate loaded');
    if (missing.length === 0) return 'ok';
    return reply.code(503).send(`not ready: ${missing.join(', ')}`);
  });
};
