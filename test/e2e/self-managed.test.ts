/**
 * Self-managed certificates (DESIGN.md §7) with two replicas on the real
 * control plane: they start together and end with ONE CA; the CA goes into
 * every webhook of the MutatingWebhookConfiguration (and back in when
 * someone removes it); a serving certificate written into the Secret, or
 * renewed by the leader, is served by every replica without a restart.
 *
 * Every TLS check is strict: the client trusts only the Secret's ca.crt and
 * verifies the IP SAN 127.0.0.1 (Go's API server ignores the Common Name,
 * so a certificate must carry its names as SANs).
 *
 * The replicas re-read the Secret every --cert-check-interval (1 s here,
 * 1 m by default). They run with the admin kubeconfig in a fresh namespace of
 * their own and watch no workload namespace (a selector nothing matches);
 * the test's MutatingWebhookConfiguration selects no namespace either, so no
 * other test's pod is ever sent to them.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { join, resolve, dirname } from 'node:path';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { V1Secret } from '@kubernetes/client-node';
import { createCA, createServingCert } from '../../src/certs/issue.ts';
import { apiStatus, clients, createTestNamespace, testKubeconfigPath, waitFor } from '../harness/cluster-env.ts';
import { freePort, newOwner, OWNER_LABEL } from '../harness/reloader.ts';
import { podWebhook } from '../harness/webhook-config.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { core, admission } = clients();

const owner = newOwner('sm');
const ns = await createTestNamespace(t, { prefix: 'cr-sm' });
const SECRET = 'config-reloader-certs';
const SERVICE = 'config-reloader';
const DNS_NAMES = [SERVICE, `${SERVICE}.${ns}`, `${SERVICE}.${ns}.svc`, `${SERVICE}.${ns}.svc.cluster.local`];
const mwcName = `config-reloader-sm-${owner}`;

// ---- two replicas --------------------------------------------------------------------

interface Replica {
  name: string;
  port: number;
  pid: number;
  logs(): string;
  alive(): boolean;
}

function startReplica(name: string, port: number): Replica {
  const proc = spawn(
    process.execPath,
    [
      join(repoRoot, 'src/main.ts'),
      '--kubeconfig', testKubeconfigPath(),
      '--namespace', ns,
      '--tls-san', '127.0.0.1',
      '--webhook-config-name', mwcName,
      '--enable-ha',
      '--cert-check-interval', '1s',
      '--namespace-selector', `${OWNER_LABEL}=${owner}`,
      '--port', String(port),
      '--bind-address', '127.0.0.1',
      '--log-level', 'debug',
    ],
    { env: { ...process.env, POD_NAME: `${name}-${owner}` }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => proc.once('exit', r));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  t.teardown(async () => {
    if (!alive()) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  return { name, port, pid: proc.pid!, logs: () => out, alive };
}

/** New TLS connection trusting only `caPem`; Node checks the IP SAN 127.0.0.1 (no servername for an IP). */
function peerCert(port: number, caPem: string): Promise<PeerCertificate> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port, ca: caPem, rejectUnauthorized: true, timeout: 5000 }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      res(cert);
    });
    s.on('timeout', () => s.destroy(new Error('TLS timeout')));
    s.on('error', rej);
  });
}

async function readyz(port: number, caPem: string): Promise<boolean> {
  const { request } = await import('node:https');
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', ca: caPem, agent: false, timeout: 5000 }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toUpperCase();

async function readSecret(): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace: ns, name: SECRET });
  } catch (e) {
    if (apiStatus(e) === 404) return undefined;
    throw e;
  }
}

// A MutatingWebhookConfiguration with TWO webhooks and no caBundle yet.
const [portA, portB] = await (async () => {
  const a = await freePort();
  let b = await freePort();
  while (b === a) b = await freePort();
  return [a, b];
})();
await admission.createMutatingWebhookConfiguration({
  body: {
    metadata: { name: mwcName },
    // no namespace carries the owner label: the webhooks are never called
    webhooks: [portA, portB].map((port, i) => podWebhook({ port, name: `${'ab'[i]}.pods.config-reloader.test`, namespaceSelector: { matchLabels: { [OWNER_LABEL]: owner } } })),
  },
});
t.teardown(async () => {
  try {
    await admission.deleteMutatingWebhookConfiguration({ name: mwcName });
  } catch (e) {
    if (apiStatus(e) !== 404) throw e;
  }
});

// (no top-level assertion before the awaits below: tap would end the root test early)
const secretBefore = await readSecret();
// started in the same tick: both find no Secret and race to create it
const replicas = [startReplica('a', portA), startReplica('b', portB)];

const secret0 = await waitFor(
  `certificate Secret ${ns}/${SECRET}`,
  async () => {
    for (const r of replicas) if (!r.alive()) throw new Error(`replica ${r.name} exited:\n${r.logs().slice(-3000)}`);
    return readSecret();
  },
  { timeoutMs: 60_000, intervalMs: 100 },
);
const caPem = unb64(secret0.data?.['ca.crt']);
const caKeyPem = unb64(secret0.data?.['ca.key']);
for (const r of replicas) {
  await waitFor(
    `replica ${r.name} /readyz over strict TLS`,
    async () => {
      if (!r.alive()) throw new Error(`replica ${r.name} exited:\n${r.logs().slice(-3000)}`);
      return readyz(r.port, caPem);
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

/** Every replica serves `serial` to new connections (strict TLS, only the Secret's CA). */
async function everyReplicaServes(what: string, serial: () => Promise<string> | string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    what,
    async () => {
      const want = (await serial()).toUpperCase();
      for (const r of replicas) {
        if (!r.alive()) throw new Error(`replica ${r.name} exited:\n${r.logs().slice(-3000)}`);
        if ((await peerCert(r.port, caPem)).serialNumber.toUpperCase() !== want) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

// logs arrive through pipes: wait until both have logged `listening`, which
// comes after any `created the certificate secret`
for (const r of replicas) {
  await waitFor(`replica ${r.name} logged listening`, () => r.logs().includes('"msg":"listening"'), { timeoutMs: 10_000, intervalMs: 50 });
}

const created = (r: Replica) => r.logs().split('\n').filter((l) => l.includes('"msg":"created the certificate secret"')).length;

t.test('two replicas starting together end with ONE CA, served under strict TLS', async (t) => {
  t.equal(secretBefore, undefined, 'no certificate Secret before the start');
  t.equal(created(replicas[0]!) + created(replicas[1]!), 1, 'exactly one replica created the Secret; the other adopted it');
  for (const k of ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']) t.ok(secret0.data?.[k], `Secret has ${k}`);
  t.equal(secret0.type, 'kubernetes.io/tls');
  const ca = new X509Certificate(caPem);
  t.ok(ca.ca, 'ca.crt is a CA');

  const serving = unb64(secret0.data?.['tls.crt']);
  for (const r of replicas) {
    const peer = await peerCert(r.port, caPem); // rejects unless chained to ca.crt with SAN IP 127.0.0.1
    t.equal(peer.serialNumber.toUpperCase(), serialOf(serving), `replica ${r.name} serves the Secret's serving certificate`);
    t.match(peer.subjectaltname ?? '', /IP Address:127\.0\.0\.1/, `replica ${r.name}: IP SAN`);
    for (const dns of DNS_NAMES) t.equal(checkServerIdentity(dns, peer), undefined, `replica ${r.name}: valid for ${dns}`);
    t.ok(new X509Certificate(serving).checkIssued(ca), 'issued by the Secret\'s CA');
  }

  // the strictness is real: a client trusting another CA is refused
  const stranger = await createCA({ commonName: 'stranger', validityDays: 1 });
  await t.rejects(peerCert(replicas[0]!.port, stranger.cert), 'a client trusting another CA refuses the connection');
});

t.test('the CA is written into every webhook of the configuration, and put back', async (t) => {
  const bundle = b64(caPem);
  const read = () => admission.readMutatingWebhookConfiguration({ name: mwcName });
  await waitFor('caBundle in both webhooks', async () => (await read()).webhooks?.every((w) => w.clientConfig.caBundle === bundle) === true, { timeoutMs: 30_000, intervalMs: 200 });
  t.equal((await read()).webhooks?.length, 2);

  // someone replaces the second webhook's caBundle: the leader writes it back
  const stranger = await createCA({ commonName: 'stranger', validityDays: 1 });
  const mwc = await read();
  mwc.webhooks![1]!.clientConfig.caBundle = b64(stranger.cert);
  await admission.replaceMutatingWebhookConfiguration({ name: mwcName, body: mwc });
  await waitFor('caBundle restored in the second webhook', async () => (await read()).webhooks?.[1]?.clientConfig.caBundle === bundle, { timeoutMs: 20_000, intervalMs: 200 });
  t.pass('restored');
});

async function writeServing(cert: { cert: string; key: string }): Promise<void> {
  const s = (await readSecret())!;
  s.data = { ...s.data, 'tls.crt': b64(cert.cert), 'tls.key': b64(cert.key) };
  await core.replaceNamespacedSecret({ namespace: ns, name: SECRET, body: s });
}

t.test('a serving certificate written into the Secret is served by every replica without a restart', async (t) => {
  const pids = replicas.map((r) => r.pid);
  const next = await createServingCert({ ca: { cert: caPem, key: caKeyPem }, dnsNames: DNS_NAMES, ipAddresses: ['127.0.0.1'], validityDays: 365 });
  t.not(serialOf(next.cert), serialOf(unb64(secret0.data?.['tls.crt'])), 'a new serial');
  await writeServing(next);
  await everyReplicaServes('every replica serving the new certificate', () => serialOf(next.cert));
  t.same(
    replicas.map((r) => r.pid),
    pids,
    'same processes',
  );
  t.ok(replicas.every((r) => r.alive()), 'no replica restarted or exited');
  t.equal(serialOf(unb64((await readSecret())?.data?.['tls.crt'])), serialOf(next.cert), 'the leader kept it (valid, right SANs, right CA)');
  t.equal(created(replicas[0]!) + created(replicas[1]!), 1, 'no second Secret/CA');
});

t.test('a serving certificate due for renewal is renewed by the leader and served by every replica', async (t) => {
  // issued 300 days ago for a year: 65 days left, inside the last third
  const due = await createServingCert({
    ca: { cert: caPem, key: caKeyPem },
    dnsNames: DNS_NAMES,
    ipAddresses: ['127.0.0.1'],
    validityDays: 365,
    now: new Date(Date.now() - 300 * 86_400_000),
  });
  await writeServing(due);
  const renewed = await waitFor(
    'the leader to renew the serving certificate',
    async () => {
      const pem = unb64((await readSecret())?.data?.['tls.crt']);
      return pem && serialOf(pem) !== serialOf(due.cert) ? pem : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  const x = new X509Certificate(renewed);
  t.ok(x.validToDate.getTime() > Date.now() + 300 * 86_400_000, 'renewed for about a year');
  t.ok(x.checkIssued(new X509Certificate(caPem)), 'by the same CA');
  t.equal(unb64((await readSecret())?.data?.['ca.crt']), caPem, 'the CA did not change');
  await everyReplicaServes('every replica serving the renewed certificate', () => serialOf(renewed));
  t.ok(replicas.every((r) => r.alive()), 'no replica restarted or exited');
  t.ok(replicas.some((r) => r.logs().includes('"msg":"renewing the serving certificate"')), 'the leader logged the renewal');
});
