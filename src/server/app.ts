/**
 * `build()`: the one HTTPS server (Fastify 5) with its plugins. It does not
 * listen; the caller (main, tests, bench) does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { CertInfo, CertPair } from '../certs/types.ts';
import { healthRoutes } from './health.ts';
import { createLogger } from './logger.ts';
import { createServerMetrics, metricsRoutes, type ServerMetrics } from './metrics.ts';
import { mutateRoutes, type Admit } from './mutate.ts';
import { createCertificateSlot, httpsOptions, inspectPair } from './tls.ts';

/**
 * A request still arriving after 30 s is useless: the API server's webhook
 * timeout is at most 30 s. Bounding it also stops slow-body clients from
 * holding sockets forever.
 */
export const REQUEST_TIMEOUT_MS = 30_000;
/**
 * Idle keep-alive connections are kept 120 s: longer than the 90 s idle
 * timeout of Go's HTTP transport (the API server's webhook client), so the
 * client closes idle connections first and never sends a request on one we
 * are closing at that very moment.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;

export interface BuildOptions {
  /** The admission decision (the webhook's `createAdmissionHandler(...)`). */
  admit: Admit;
  /** True once the caches have synced (for /readyz). */
  ready: () => boolean;
  /** Initial certificate; without it handshakes fail and /readyz says so until `setCertificate`. */
  tls?: CertPair;
  logger?: Logger;
  /** Registry for /metrics; a new one by default. The watcher registers its metrics here too. */
  registry?: Registry;
  /** Bytes accepted on /mutate; see MUTATE_BODY_LIMIT. */
  bodyLimit?: number;
}

/** Members `build()` adds to the Fastify instance. */
export interface ServerDecorations {
  /** Hot-swap the certificate for new connections; throws (keeping the old one) on a bad pair. */
  setCertificate(pair: CertPair): CertInfo;
  /** The certificate being served, undefined until one is loaded. */
  certificate(): CertInfo | undefined;
  metrics: ServerMetrics;
}

export type ServerApp = FastifyInstance<HttpsServer, IncomingMessage, ServerResponse, Logger> & ServerDecorations;

/** Create the server with every route registered; call `listen()` (or `inject()`) on it. */
export function build(opts: BuildOptions): ServerApp {
  if (typeof opts.admit !== 'function') throw new Error('build: admit must be a function');
  if (typeof opts.ready !== 'function') throw new Error('build: ready must be a function');
  // Validate first: a bad pair fails here with a clear, key-free message.
  const initialCert = opts.tls === undefined ? undefined : inspectPair(opts.tls);
  const app = Fastify({
    https: httpsOptions(opts.tls),
    loggerInstance: opts.logger ?? createLogger(),
    // One line per request would dominate the logs at admission rates; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  }) as unknown as FastifyInstance<HttpsServer, IncomingMessage, ServerResponse, Logger>;

  const slot = createCertificateSlot(app.server, initialCert);
  const metrics = createServerMetrics(opts.registry ?? new Registry(), slot.current);
  app.decorate('setCertificate', (pair: CertPair) => {
    const info = slot.set(pair);
    app.log.info({ serialNumber: info.serialNumber, notAfter: info.notAfter.toISOString() }, 'serving certificate replaced');
    return info;
  });
  app.decorate('certificate', slot.current);
  app.decorate('metrics', metrics);

  app.register(mutateRoutes, { admit: opts.admit, metrics, bodyLimit: opts.bodyLimit });
  app.register(healthRoutes, { ready: opts.ready, certificate: slot.current });
  app.register(metricsRoutes, { registry: metrics.registry });
  return app as ServerApp;
}
