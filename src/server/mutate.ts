/**
 * `POST /mutate`: the AdmissionReview endpoint the API server calls.
 *
 * HTTP concerns only: content type, size, JSON syntax, metrics, and the
 * guarantee that a request carrying a uid always gets an allowed review back
 * (failurePolicy Ignore would admit the pod anyway, but a well-formed answer
 * keeps the API server's logs and latency clean). The decision is `admit`'s.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { allow, uidOf, type AdmissionOutcome } from '../webhook/review.ts';
import type { AdmissionMetricResult, ServerMetrics } from './metrics.ts';

/** The admission decision: never throws by contract; if it does, the pod is allowed unpatched. */
export type Admit = (body: unknown) => Promise<AdmissionOutcome>;

/**
 * Largest accepted AdmissionReview: 7 MiB.
 * The API server refuses request bodies over 3 MiB, so a Pod in a review is at
 * most ~3 MiB of JSON (it may grow a little: earlier mutating webhooks and
 * defaulting run before us). A review carries `object` and, for UPDATE,
 * `oldObject`: 2 × 3 MiB, plus 1 MiB for the envelope (userInfo, options) and
 * that growth. We register for CREATE only (oldObject null), so real reviews
 * are half this; the limit only has to stop absurd bodies. Fastify's default
 * (1 MiB) would refuse legitimate large pods — they would then start
 * unstamped. Memory: parsing a 7 MiB body costs a few tens of MB, once per
 * concurrent request.
 */
export const MUTATE_BODY_LIMIT = 7 * 1024 * 1024;

export interface MutateOptions {
  admit: Admit;
  metrics: ServerMetrics;
  /** Bytes; defaults to MUTATE_BODY_LIMIT. */
  bodyLimit?: number;
}

/** Register `POST /mutate` (encapsulated: its parsers and error handler stay in this plugin). */
export const mutateRoutes: FastifyPluginAsync<MutateOptions> = async (app, opts) => {
  if (typeof opts.admit !== 'function') throw new Error('mutate plugin needs an admit function');
  if (!opts.metrics) throw new Error('mutate plugin needs the server metrics');
  const bodyLimit = opts.bodyLimit ?? MUTATE_BODY_LIMIT;
  if (!Number.isInteger(bodyLimit) || bodyLimit <= 0) throw new Error(`bodyLimit must be a positive integer, got ${bodyLimit}`);
  const { admit, metrics } = opts;

  // Only application/json here (Fastify's default text/plain parser would let
  // a text body reach the handler). Fastify's JSON parser (secure-json-parse:
  // refuses __proto__/constructor.prototype keys) is kept, but its error says
  // only "not valid JSON": say where.
  const secureJsonParse = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    secureJsonParse(request, body as string, (err, value) => {
      if ((err as FastifyError | null)?.code === 'FST_ERR_CTP_INVALID_JSON_BODY') done(invalidJson(body as string));
      else done(err, value);
    });
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'mutate request failed');
    else request.log.debug({ code: err.code, status }, 'mutate request refused');
    return refuse(reply, status, status === 500 ? 'error' : 'invalid', clientMessage(err, request, bodyLimit));
  });

  app.addHook('onResponse', async (_request, reply) => {
    metrics.admissionDuration.observe(reply.elapsedTime / 1000);
  });

  app.post('/mutate', { bodyLimit }, async (request, reply) => {
    const body = request.body;
    let outcome: AdmissionOutcome;
    try {
      outcome = await admit(body);
    } catch (err) {
      const uid = uidOf(body);
      request.log.error({ err, uid }, 'admission handler threw, allowing without a patch');
      if (uid === undefined) return refuse(reply, 400, 'invalid', 'not an AdmissionReview: request.uid is missing');
      outcome = { status: 200, review: allow(uid), result: 'error' };
    }
    if (outcome.status === 400) {
      request.log.debug({ reason: outcome.message }, 'mutate request refused');
      return refuse(reply, 400, 'invalid', outcome.message);
    }
    metrics.admissions.inc({ result: outcome.result });
    return reply.code(200).send(outcome.review);
  });

  function refuse(reply: FastifyReply, status: number, result: AdmissionMetricResult, message: string): FastifyReply {
    metrics.admissions.inc({ result });
    return reply.code(status).type('application/json; charset=utf-8').send({ statusCode: status, error: STATUS_CODES[status], message });
  }
};

/**
 * Why a body failed secure JSON parsing; called only on that failure path, so
 * the second parse costs nothing in normal operation. The message may quote a
 * few characters of the caller's own body back to the caller, never to logs.
 */
function invalidJson(body: string): Error {
  let message = 'request body is not valid JSON';
  try {
    JSON.parse(body);
    message = 'request body has a forbidden "__proto__" or "constructor.prototype" key';
  } catch (err) {
    message += `: ${(err as Error).message}`;
  }
  return Object.assign(new Error(message), { statusCode: 400, code: 'CR_INVALID_JSON' });
}

/** A message that tells the caller what to fix, for the errors Fastify raises before our handler. */
function clientMessage(err: FastifyError, request: FastifyRequest, bodyLimit: number): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `content-type must be application/json, got ${JSON.stringify(request.headers['content-type'] ?? null)}`;
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than ${bodyLimit} bytes`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'request body is empty: expected an AdmissionReview JSON object';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'request body size does not match Content-Length';
  }
  if ((err.statusCode ?? 500) >= 500) return 'internal error';
  return err.message;
}
