import t, { type Test } from 'tap';
import { connect, checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { request } from 'node:https';
import { pino } from 'pino';
import { createCA, createServingCert } from '../../src/certs/issue.ts';
import { build, KEEP_ALIVE_TIMEOUT_MS } from '../../src/server/app.ts';
import { MUTATE_BODY_LIMIT } from '../../src/server/mutate.ts';
import { allow, parseReview, type AdmissionOutcome } from '../../src/webhook/review.ts';

// The API server dials https://<service>.<namespace>.svc:443 and verifies the
// SAN with Go's strict rules (no commonName fallback): so do we, with the
// generated CA as the only trust root.
const SERVICE_DNS = 'config-reloader.config-reloader.svc';
const ca = await createCA({ commonName: 'config-reloader-ca', validityDays: 30 });
const good = await createServingCert({
  ca,
  dnsNames: ['config-reloader', 'config-reloader.config-reloader', SERVICE_DNS, `${SERVICE_DNS}.cluster.local`],
  ipAddresses: ['127.0.0.1'],
  validityDays: 10,
});
const wrongSan = await createServingCert({ ca, dnsNames: ['something-else.other.svc'], ipAddresses: ['10.9.9.9'], validityDays: 10 });
const foreignCa = await createCA({ commonName: 'config-reloader-ca', validityDays: 30 });

const admit = async (body: unknown): Promise<AdmissionOutcome> => {
  const r = parseReview(body);
  return r.ok ? { status: 200, review: allow(r.review.request.uid), result: 'not-ours' } : { status: 400, message: r.message };
};

async function listen(t: Test, pair = good) {
  const app = build({ admit, ready: () => true, tls: pair, logger: pino({ level: 'silent' }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return { app, port: (app.server.address() as { port: number }).port };
}

type Handshake = { ok: true; cert: PeerCertificate; protocol: string | null; checked: string[] } | { ok: false; code: string; checked: string[] };

/** A strict TLS handshake (rejectUnauthorized, identity checked); records which host name was checked. */
function handshake(port: number, opts: ConnectionOptions): Promise<Handshake> {
  const checked: string[] = [];
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: [ca.cert],
      rejectUnauthorized: true,
      checkServerIdentity: (host, cert) => {
        checked.push(host);
        return checkServerIdentity(host, cert);
      },
      ...opts,
    });
    socket.once('secureConnect', () => {
      resolve({ ok: true, cert: socket.getPeerCertificate(), protocol: socket.getProtocol(), checked });
      socket.end();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code ?? err.message, checked }));
  });
}

t.test('strict client: the service DNS name verifies, and a full admission goes through', async (t) => {
  const { port } = await listen(t);
  const h = await handshake(port, { servername: SERVICE_DNS });
  t.match(h, { ok: true, checked: [SERVICE_DNS] });
  t.equal(h.ok && h.cert.subjectaltname?.includes(`DNS:${SERVICE_DNS}`), true);

  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'tls-uid' } });
  const res = await new Promise<{ status?: number; text: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, servername: SERVICE_DNS, ca: [ca.cert], method: 'POST', path: '/mutate', headers: { 'content-type': 'application/json' } },
      (r) => {
        let text = '';
        r.on('data', (d: Buffer) => (text += d));
        r.on('end', () => resolve({ status: r.statusCode, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  t.equal(res.status, 200);
  t.same(JSON.parse(res.text), allow('tls-uid'));
});

t.test('strict client: the 127.0.0.1 IP SAN verifies', async (t) => {
  const { port } = await listen(t);
  t.match(await handshake(port, {}), { ok: true, checked: ['127.0.0.1'] });
});

t.test('a certificate without the right SAN is refused', async (t) => {
  const { port } = await listen(t, wrongSan);
  t.match(await handshake(port, { servername: SERVICE_DNS }), { ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  t.match(await handshake(port, {}), { ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

t.test('a certificate from another CA is refused', async (t) => {
  const { port } = await listen(t);
  t.match(await handshake(port, { servername: SERVICE_DNS, ca: [foreignCa.cert] }), { ok: false, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});

t.test('TLS 1.2 and 1.3 are accepted, 1.1 is not, also after a certificate swap', async (t) => {
  const { app, port } = await listen(t);
  const versions = async () => [
    await handshake(port, { servername: SERVICE_DNS }),
    await handshake(port, { servername: SERVICE_DNS, maxVersion: 'TLSv1.2' }),
    await handshake(port, { servername: SERVICE_DNS, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
  ];
  // The client is willing (SECLEVEL=0 allows 1.1); the server's protocol_version alert refuses it.
  const expected = [{ ok: true, protocol: 'TLSv1.3' }, { ok: true, protocol: 'TLSv1.2' }, { ok: false, code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' }];
  const first = await versions();
  t.match(first, expected);
  app.setCertificate(good);
  t.match(await versions(), expected);
});

t.test('without a certificate, handshakes fail until one is set', async (t) => {
  const app = build({ admit, ready: () => true, logger: pino({ level: 'silent' }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;
  t.match(await handshake(port, { servername: SERVICE_DNS }), { ok: false });
  app.setCertificate(good);
  t.match(await handshake(port, { servername: SERVICE_DNS }), { ok: true });
});

t.test('over the wire: an oversize body is refused with 413 before it is sent', async (t) => {
  const { port } = await listen(t);
  // Only the headers go out: Fastify answers from Content-Length alone and
  // closes the connection. (A client that pushes the whole body may see a
  // reset instead of the 413, so this one does not.)
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: SERVICE_DNS, ca: [ca.cert] }, () => {
      socket.write(
        `POST /mutate HTTP/1.1\r\nHost: ${SERVICE_DNS}\r\nContent-Type: application/json\r\nContent-Length: ${MUTATE_BODY_LIMIT + 1}\r\n\r\n{`,
      );
    });
    let text = '';
    socket.on('data', (d: Buffer) => (text += d));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(raw, /^HTTP\/1.1 413 Payload Too Large\r\n/);
  t.match(raw, /\r\nconnection: close\r\n/i);
  t.match(raw, /request body is larger than 7340032 bytes/);
});

t.test('keep-alive outlasts the API server client idle timeout', async (t) => {
  const { app } = await listen(t);
  t.equal(app.server.keepAliveTimeout, KEEP_ALIVE_TIMEOUT_MS);
  t.ok(KEEP_ALIVE_TIMEOUT_MS > 90_000);
});
