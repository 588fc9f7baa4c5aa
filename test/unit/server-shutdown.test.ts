import { captureLogger, waitFor } from '../helpers/local.ts';
import t, { type Test } from 'tap';
import { request, Agent } from 'node:https';
import { Writable } from 'node:stream';
import { createCA, createServingCert } from '../../src/certs/issue.ts';
import { build } from '../../src/server/app.ts';
import { createLogger } from '../../src/server/logger.ts';
import { installShutdown, type ShutdownOptions } from '../../src/server/shutdown.ts';
import { allow, uidOf, type AdmissionOutcome } from '../../src/webhook/review.ts';

const ca = await createCA({ commonName: 'test-ca', validityDays: 30 });
const cert = await createServingCert({ ca, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 10 });


/** A server whose admissions wait until released, listening on loopback, with shutdown installed. */
async function start(t: Test, shutdownOpts: ShutdownOptions = {}) {
  const { logger, lines } = captureLogger('info');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let admitting = 0;
  const admit = async (body: unknown): Promise<AdmissionOutcome> => {
    admitting++;
    await gate;
    return { status: 200, review: allow(uidOf(body)!), result: 'unchanged' };
  };
  const app = build({ admit, ready: () => true, tls: cert, logger });
  const exits: number[] = [];
  const handle = installShutdown(app, { exit: (code) => void exits.push(code), ...shutdownOpts });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  t.teardown(async () => {
    release();
    await app.close();
  });
  return { app, handle, port, lines, exits, release, admitting: () => admitting };
}

/** POST a review over a strict TLS client; resolves with the status or the error code. */
function post(port: number, uid: string): Promise<{ status?: number; body?: string; error?: string }> {
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid } });
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/mutate', ca: cert.ca, agent: new Agent({ keepAlive: false }), headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, body: text }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

t.test('SIGTERM: stop accepting, finish in-flight, run hooks in order, exit 0', async (t) => {
  const order: string[] = [];
  const before = process.listenerCount('SIGTERM');
  const s = await start(t, { hooks: [() => void order.push('first')] });
  s.handle.onShutdown(async () => {
    order.push(`second (listening: ${s.app.server.listening})`);
  });
  t.equal(process.listenerCount('SIGTERM'), before + 1);
  const inflight = post(s.port, 'in-flight');
  await waitFor(() => s.admitting() === 1);
  process.kill(process.pid, 'SIGTERM');
  await waitFor(() => !s.app.server.listening);
  t.match(await post(s.port, 'late'), { error: 'ECONNREFUSED' }, 'new connections are refused');
  t.same(order, [], 'hooks wait for in-flight requests');
  s.release();
  const res = await inflight;
  t.equal(res.status, 200);
  t.same(JSON.parse(res.body!), allow('in-flight'));
  await waitFor(() => s.exits.length === 1);
  t.same(s.exits, [0]);
  t.same(order, ['first', 'second (listening: false)']);
  const mine = s.lines.filter((l) => /^shutdown/.test(String(l.msg)));
  t.match(mine, [{ msg: 'shutdown started', reason: 'SIGTERM' }, { msg: 'shutdown complete' }]);
  t.equal(process.listenerCount('SIGTERM'), before, 'signal handlers removed');
});

t.test('requests that outlive the drain timeout have their connections closed', async (t) => {
  const s = await start(t, { drainTimeoutMs: 50 });
  const stuck = post(s.port, 'stuck');
  await waitFor(() => s.admitting() === 1);
  await s.handle.shutdown('test');
  t.match(await stuck, { error: 'ECONNRESET' });
  t.same(s.exits, [0]);
  t.match(s.lines.find((l) => l.level === 'warn'), { msg: 'requests still in flight after the drain timeout, closing their connections', drainTimeoutMs: 50 });
});

t.test('failing and hanging hooks are logged and do not stop the others', async (t) => {
  const ran: string[] = [];
  const s = await start(t, {
    hookTimeoutMs: 20,
    hooks: [
      () => {
        throw new Error('lease release failed');
      },
      () => new Promise(() => {}),
      () => void ran.push('last'),
    ],
  });
  await s.handle.shutdown('test');
  t.same(ran, ['last']);
  t.same(s.exits, [0]);
  t.match(s.lines.find((l) => l.msg === 'shutdown hook failed'), { level: 'error', err: { message: 'lease release failed' } });
  t.match(s.lines.find((l) => l.msg === 'shutdown hook timed out'), { level: 'warn', hookTimeoutMs: 20 });
});

t.test('a second signal during shutdown exits 1 at once; shutdown() is idempotent', async (t) => {
  const s = await start(t, { signals: ['SIGUSR2'], drainTimeoutMs: 5000 });
  const stuck = post(s.port, 'stuck');
  await waitFor(() => s.admitting() === 1);
  const first = s.handle.shutdown('first');
  t.equal(s.handle.shutdown('again'), first, 'the same shutdown');
  process.kill(process.pid, 'SIGUSR2');
  await waitFor(() => s.exits.length === 1);
  t.same(s.exits, [1]);
  t.match(s.lines.find((l) => l.msg === 'second signal during shutdown, exiting now'), { signal: 'SIGUSR2' });
  s.release();
  await stuck;
  await first;
  t.same(s.exits, [1, 0]);
});

t.test('an app closed by other means removes the signal handlers', async (t) => {
  const before = process.listenerCount('SIGINT');
  const s = await start(t);
  t.equal(process.listenerCount('SIGINT'), before + 1);
  s.release();
  await s.app.close();
  t.equal(process.listenerCount('SIGINT'), before);
  t.same(s.exits, []);
});

t.test('a failing close is logged and shutdown still completes', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) });
  const app = build({ admit: async () => ({ status: 400, message: 'x' }), ready: () => true, logger });
  app.addHook('onClose', async () => {
    throw new Error('close failed');
  });
  const exits: number[] = [];
  const handle = installShutdown(app, { exit: (c) => void exits.push(c), signals: [] });
  await app.ready();
  await handle.shutdown('test');
  t.same(exits, [0]);
  t.match(lines.find((l) => l.msg === 'closing the server failed'), { level: 'error', err: { message: 'close failed' } });
});

t.test('timeouts are validated', async (t) => {
  const app = build({ admit: async () => ({ status: 400, message: 'x' }), ready: () => true, logger: createLogger({ level: 'silent' }) });
  t.teardown(() => app.close());
  t.throws(() => installShutdown(app, { drainTimeoutMs: 0 }), /timeouts must be > 0/);
  t.throws(() => installShutdown(app, { hookTimeoutMs: -1 }), /timeouts must be > 0/);
});
