import { captureLogger } from '../helpers/local.ts';
import t, { type Test } from 'tap';
import Fastify from 'fastify';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { createCA, createServingCert } from '../../src/certs/issue.ts';
import { build, type BuildOptions } from '../../src/server/app.ts';
import { MUTATE_BODY_LIMIT, mutateRoutes } from '../../src/server/mutate.ts';
import { healthRoutes } from '../../src/server/health.ts';
import { metricsRoutes, createServerMetrics } from '../../src/server/metrics.ts';
import { createLogger } from '../../src/server/logger.ts';
import { allow, allowWithPatch, parseReview, type AdmissionOutcome } from '../../src/webhook/review.ts';

const ca = await createCA({ commonName: 'test-ca', validityDays: 30 });
const cert = await createServingCert({ ca, dnsNames: ['config-reloader.config-reloader.svc'], validityDays: 10 });
const other = await createServingCert({ ca, dnsNames: ['other.svc'], validityDays: 10 });

/** The bench's simple admission: validate, allow. */
const admitAllow = async (body: unknown): Promise<AdmissionOutcome> => {
  const r = parseReview(body);
  return r.ok ? { status: 200, review: allow(r.review.request.uid), result: 'not-ours' } : { status: 400, message: r.message };
};
const review = (uid = 'uid-1') => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, operation: 'CREATE' } });

const captured = () => captureLogger('debug');

function app(t: Test, opts: Partial<BuildOptions> = {}) {
  const log = captured();
  const a = build({ admit: admitAllow, ready: () => true, tls: cert, logger: log.logger, ...opts });
  t.teardown(() => a.close());
  return Object.assign(a, { lines: log.lines });
}

const post = (payload: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) => ({
  method: 'POST' as const,
  url: '/mutate',
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  headers,
});

async function counter(a: ReturnType<typeof app>, result: string): Promise<number> {
  const m = await a.metrics.admissions.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? NaN;
}

t.test('POST /mutate answers the AdmissionReview from admit', async (t) => {
  const a = app(t);
  const res = await a.inject(post(review('abc')));
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  t.same(res.json(), allow('abc'));
  t.equal(await counter(a, 'not-ours'), 1);
  t.equal(await counter(a, 'patched'), 0, 'every result series exists from the start');
  t.same(a.lines, [], 'no per-request log lines');
});

t.test('a patch from admit is passed through untouched', async (t) => {
  const patched = allowWithPatch('p-1', '[{"op":"add","path":"/x","value":1}]');
  const a = app(t, { admit: async () => ({ status: 200, review: patched, result: 'patched' }) });
  const res = await a.inject(post(review('p-1'), { 'content-type': 'application/json; charset=utf-8' }));
  t.same(res.json(), patched);
  t.equal(await counter(a, 'patched'), 1);
});

t.test('content type must be application/json', async (t) => {
  const a = app(t);
  for (const [headers, got] of [
    [{ 'content-type': 'text/plain' }, '"text/plain"'],
    [{ 'content-type': 'application/x-www-form-urlencoded' }, '"application/x-www-form-urlencoded"'],
    [{}, 'null'],
  ] as const) {
    const res = await a.inject(post(review(), headers));
    t.equal(res.statusCode, 415);
    t.same(res.json(), { statusCode: 415, error: 'Unsupported Media Type', message: `content-type must be application/json, got ${got}` });
  }
  t.equal((await a.inject(post(review(), { 'content-type': 'Application/JSON' }))).statusCode, 200, 'media type is case-insensitive');
  t.equal(await counter(a, 'invalid'), 3);
});

t.test('bodies that are not JSON or not an AdmissionReview get a clear 400', async (t) => {
  const a = app(t);
  const cases: Array<[string, RegExp]> = [
    ['{not json', /^request body is not valid JSON: .*position 1/],
    ['', /^request body is empty: expected an AdmissionReview JSON object$/],
    ['{"__proto__":{"polluted":true}}', /^request body has a forbidden "__proto__" or "constructor.prototype" key$/],
    ['[1,2]', /^body must be a JSON object \(an AdmissionReview\)$/],
    ['{"kind":"Pod"}', /^kind must be "AdmissionReview", got "Pod"$/],
    [JSON.stringify({ ...review(), request: { uid: '' } }), /^request.uid must be a non-empty string$/],
  ];
  for (const [body, message] of cases) {
    const res = await a.inject(post(body));
    t.equal(res.statusCode, 400, body);
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message });
  }
  const short = await a.inject({ ...post('{"a":1}'), headers: { 'content-type': 'application/json', 'content-length': '3' } });
  t.same(short.json().message, 'request body size does not match Content-Length');
  t.equal(await counter(a, 'invalid'), cases.length + 1);
  t.equal(a.lines.filter((l) => l.level !== 'debug').length, 0, 'refusals are logged at debug only');
});

t.test('body limit: 7 MiB by default, 413 above it', async (t) => {
  const a = app(t);
  const json = JSON.stringify(review('big'));
  // Pad with JSON whitespace up to exactly the limit: accepted.
  const atLimit = json.slice(0, -1) + ' '.repeat(MUTATE_BODY_LIMIT - json.length) + '}';
  t.equal(Buffer.byteLength(atLimit), MUTATE_BODY_LIMIT);
  const ok = await a.inject(post(atLimit));
  t.equal(ok.statusCode, 200);
  const res = await a.inject(post(atLimit + ' '));
  t.equal(res.statusCode, 413);
  t.same(res.json(), { statusCode: 413, error: 'Payload Too Large', message: `request body is larger than ${MUTATE_BODY_LIMIT} bytes` });

  const small = app(t, { bodyLimit: 100 });
  t.equal((await small.inject(post({ ...review(), pad: 'x'.repeat(100) }))).statusCode, 413);
});

t.test('admit throwing: allowed with the uid echoed, counted as error, logged without the body', async (t) => {
  const a = app(t, {
    admit: async () => {
      throw new Error('boom');
    },
  });
  const res = await a.inject(post({ ...review('u-err'), request: { uid: 'u-err', object: { spec: { secret: 'hunter2' } } } }));
  t.equal(res.statusCode, 200);
  t.same(res.json(), allow('u-err'));
  t.equal(await counter(a, 'error'), 1);
  t.match(a.lines, [{ level: 'error', msg: 'admission handler threw, allowing without a patch', uid: 'u-err', err: { message: 'boom' } }]);
  t.notMatch(JSON.stringify(a.lines), /hunter2/);

  const noUid = await a.inject(post({ kind: 'AdmissionReview' }));
  t.equal(noUid.statusCode, 400);
  t.equal(noUid.json().message, 'not an AdmissionReview: request.uid is missing');
  t.equal(await counter(a, 'invalid'), 1);
});

t.test('a response that cannot be serialised is a 500, counted as error', async (t) => {
  const a = app(t, { admit: async () => ({ status: 200, review: { bad: 1n }, result: 'patched' }) as unknown as AdmissionOutcome });
  const res = await a.inject(post(review()));
  t.equal(res.statusCode, 500);
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  t.equal(await counter(a, 'error'), 1);
  t.match(a.lines, [{ level: 'error', msg: 'mutate request failed' }]);
});

t.test('/healthz and /live', async (t) => {
  const a = app(t, { ready: () => false, tls: undefined });
  for (const url of ['/healthz', '/live']) {
    const res = await a.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200);
    t.equal(res.body, 'ok');
    t.match(res.headers['content-type'], /^text\/plain/);
  }
});

t.test('/readyz: 503 naming what is missing, then 200', async (t) => {
  let synced = false;
  const a = app(t, { ready: () => synced, tls: undefined });
  const get = () => a.inject({ method: 'GET', url: '/readyz' });
  let res = await get();
  t.equal(res.statusCode, 503);
  t.equal(res.body, 'not ready: caches not synced, no serving certificate loaded');
  synced = true;
  res = await get();
  t.equal(res.body, 'not ready: no serving certificate loaded');
  a.setCertificate(cert);
  res = await get();
  t.equal(res.statusCode, 200);
  t.equal(res.body, 'ok');
});

t.test('/readyz: a throwing ready() means not ready', async (t) => {
  const a = app(t, {
    ready: () => {
      throw new Error('informer gone');
    },
  });
  const res = await a.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.equal(res.body, 'not ready: caches not synced');
  t.match(a.lines, [{ level: 'warn', msg: 'readiness check threw' }]);
});

t.test('/metrics: our metrics, process metrics, and the ones others register', async (t) => {
  const registry = new Registry();
  const a = app(t, { registry });
  new Counter({ name: 'reloader_reload_executed_total', help: 'watcher metric', labelNames: ['success'], registers: [a.metrics.registry] });
  t.equal(a.metrics.registry, registry, 'the registry passed in is used');
  await a.inject(post(review()));
  const res = await a.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0.0.4/);
  const text = res.body;
  t.match(text, /config_reloader_admissions_total\{result="not-ours"\} 1/);
  t.match(text, /config_reloader_admissions_total\{result="cache-miss"\} 0/);
  t.match(text, /config_reloader_admission_duration_seconds_bucket\{le="0.00025"\}/);
  t.match(text, /config_reloader_admission_duration_seconds_bucket\{le="5"\}/);
  t.match(text, /config_reloader_admission_duration_seconds_count 1/);
  t.match(text, /process_cpu_user_seconds_total/);
  t.match(text, /nodejs_eventloop_lag_seconds/);
  t.match(text, /# TYPE reloader_reload_executed_total counter/);
  t.match(text, new RegExp(`config_reloader_certificate_expiry_timestamp_seconds ${a.certificate()!.notAfter.getTime() / 1000}`));
  const bare = app(t, { tls: undefined });
  t.match((await bare.inject({ method: 'GET', url: '/metrics' })).body, /config_reloader_certificate_expiry_timestamp_seconds 0\n/);
});

t.test('setCertificate validates, swaps and logs without key material', async (t) => {
  const a = app(t);
  t.equal(a.certificate()!.dnsNames[0], 'config-reloader.config-reloader.svc');
  t.throws(() => a.setCertificate({ cert: cert.cert, key: other.key }), { message: 'cannot serve this certificate: private key does not match the certificate' });
  t.equal(a.certificate()!.dnsNames[0], 'config-reloader.config-reloader.svc', 'old certificate kept');
  const info = a.setCertificate(other);
  t.same(info.dnsNames, ['other.svc']);
  t.same(a.certificate(), info);
  t.match(a.lines, [{ level: 'info', msg: 'serving certificate replaced', serialNumber: info.serialNumber }]);
  t.notMatch(JSON.stringify(a.lines), /PRIVATE KEY/);
});

t.test('options are validated at build and registration', async (t) => {
  const base = { admit: admitAllow, ready: () => true, logger: pino({ level: 'silent' }) };
  t.throws(() => build({ ...base, admit: undefined as never }), /admit must be a function/);
  t.throws(() => build({ ...base, ready: 1 as never }), /ready must be a function/);
  t.throws(() => build({ ...base, tls: { cert: cert.cert, key: other.key } }), { message: 'cannot serve this certificate: private key does not match the certificate' });
  const metrics = createServerMetrics(new Registry(), () => undefined);
  const bad: Array<[string, (f: ReturnType<typeof Fastify>) => unknown, RegExp]> = [
    ['mutate admit', (f) => f.register(mutateRoutes, { admit: undefined as never, metrics }), /needs an admit function/],
    ['mutate metrics', (f) => f.register(mutateRoutes, { admit: admitAllow, metrics: undefined as never }), /needs the server metrics/],
    ['mutate bodyLimit', (f) => f.register(mutateRoutes, { admit: admitAllow, metrics, bodyLimit: 0 }), /bodyLimit must be a positive integer/],
    ['health ready', (f) => f.register(healthRoutes, { ready: undefined as never, certificate: () => undefined }), /needs a ready\(\) function/],
    ['health certificate', (f) => f.register(healthRoutes, { ready: () => true, certificate: undefined as never }), /needs a certificate\(\) function/],
    ['metrics registry', (f) => f.register(metricsRoutes, { registry: {} as never }), /needs a prom-client Registry/],
  ];
  for (const [name, register, message] of bad) {
    const f = Fastify();
    register(f);
    await t.rejects(async () => void (await f.ready()), message, name);
    await f.close();
  }
});

t.test('createLogger: JSON lines, level label, key material redacted', async (t) => {
  const { logger, lines } = captured();
  logger.info({ tls: { key: 'SECRET' }, privateKey: 'SECRET', n: 1 }, 'constant message');
  t.match(lines[0], { level: 'info', msg: 'constant message', name: 'config-reloader', n: 1, tls: { key: '[redacted]' }, privateKey: '[redacted]' });
  t.match(lines[0]!.time, /^\d{4}-\d\d-\d\dT/);
  t.equal(createLogger().level, 'info', 'stdout logger at info by default');
  const a = build({ admit: admitAllow, ready: () => true });
  t.teardown(() => a.close());
  t.equal(a.log.level, 'info', 'build() makes its own logger when given none');
});
