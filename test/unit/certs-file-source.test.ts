import { captureLogger, waitFor } from '../helpers/local.ts';
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { mkdtemp, mkdir, rename, rm, symlink, writeFile, readlink, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, createServingCert } from '../../src/certs/issue.ts';
import { openCertDir, type FileSourceOptions } from '../../src/certs/file-source.ts';
import { certInfo } from '../../src/certs/info.ts';
import { build, type ServerApp } from '../../src/server/app.ts';
import { allow } from '../../src/webhook/review.ts';
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { CertPair } from '../../src/certs/types.ts';

const ca = await createCA({ commonName: 'test-ca', validityDays: 30 });
const issue = () => createServingCert({ ca, dnsNames: ['svc.ns.svc'], validityDays: 1 });
const [pairA, pairB, pairC] = await Promise.all([issue(), issue(), issue()]);

/** Write files the way the kubelet updates a Secret volume: new dir, `..data` symlink renamed over. */
let generation = 0;
async function kubeletWrite(dir: string, files: Record<string, string>): Promise<void> {
  const stamp = `..2026_01_01_00_00_00.${++generation}`;
  await mkdir(join(dir, stamp));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, stamp, name), content);
  const old = await readlink(join(dir, '..data')).catch(() => undefined);
  await symlink(stamp, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of ['tls.crt', 'tls.key']) {
    if (!(await lstat(join(dir, name)).catch(() => undefined))) await symlink(join('..data', name), join(dir, name));
  }
  if (old) await rm(join(dir, old), { recursive: true });
}
const files = (p: CertPair) => ({ 'tls.crt': p.cert, 'tls.key': p.key });
const pairOf = (p: CertPair): CertPair => ({ cert: p.cert, key: p.key });



async function certDir(t: Test, pair: CertPair): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cr-certdir-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await kubeletWrite(dir, files(pair));
  return dir;
}

async function open(t: Test, dir: string, extra: Partial<FileSourceOptions> = {}) {
  const log = captureLogger();
  const seen: CertPair[] = [];
  const source = await openCertDir({ dir, logger: log.logger, onChange: (p) => void seen.push(p), debounceMs: 20, pollIntervalMs: 60_000, ...extra });
  t.teardown(() => source.close());
  return { source, seen, log };
}

t.test('reads the initial pair and follows a kubelet-style swap', async (t) => {
  const dir = await certDir(t, pairA);
  const { source, seen, log } = await open(t, dir);
  t.same(source.current(), pairOf(pairA));
  await kubeletWrite(dir, files(pairB));
  await waitFor(() => seen.length === 1);
  t.same(seen[0], pairOf(pairB));
  t.same(source.current(), seen[0]);
  t.match(log.lines.find((l) => l.msg === 'provided certificate reloaded'), { dir, level: 'info' });
  t.notMatch(log.text(), /PRIVATE KEY/, 'no key material in logs');
});

t.test('a bad pair is logged and the previous one kept; a good one after it is taken', async (t) => {
  const dir = await certDir(t, pairA);
  const { source, seen, log } = await open(t, dir);
  await kubeletWrite(dir, { 'tls.crt': pairB.cert, 'tls.key': pairC.key });
  await waitFor(() => log.lines.some((l) => l.msg === 'provided certificate rejected, keeping the previous one'));
  t.match(log.lines.find((l) => l.msg === 'provided certificate rejected, keeping the previous one'), {
    reason: 'private key does not match the certificate',
    level: 'warn',
  });
  t.equal(seen.length, 0);
  t.equal(source.current().cert, pairA.cert);
  await kubeletWrite(dir, files(pairC));
  await waitFor(() => seen.length === 1);
  t.equal(source.current().cert, pairC.cert);
  t.notMatch(log.text(), /PRIVATE KEY/);
});

t.test('missing files are logged once and the previous pair kept', async (t) => {
  const dir = await certDir(t, pairA);
  const { source, log } = await open(t, dir);
  await kubeletWrite(dir, { 'tls.crt': pairB.cert }); // tls.key now dangles
  await waitFor(() => log.lines.some((l) => l.msg === 'provided certificate unreadable, keeping the previous one'));
  t.match(log.lines.find((l) => l.msg === 'provided certificate unreadable, keeping the previous one'), { code: 'ENOENT' });
  t.equal(source.current().cert, pairA.cert);
});

t.test('unchanged content (a resync of the same Secret) is not reported', async (t) => {
  const dir = await certDir(t, pairA);
  const { seen, log } = await open(t, dir);
  await kubeletWrite(dir, files(pairA));
  await waitFor(() => log.lines.some((l) => l.msg === 'provided certificate rewritten with the same content'));
  t.equal(seen.length, 0);
});

t.test('polling catches a change the watcher missed', async (t) => {
  const dir = await certDir(t, pairA);
  // A debounce longer than the test: only the poll can pick the change up.
  const { seen } = await open(t, dir, { debounceMs: 600_000, pollIntervalMs: 20 });
  await kubeletWrite(dir, files(pairB));
  await waitFor(() => seen.length === 1);
  t.equal(seen[0]!.cert, pairB.cert);
});

t.test('close() stops watching: a closed source misses what an open one sees', async (t) => {
  const dir = await certDir(t, pairA);
  const closed = await open(t, dir, { pollIntervalMs: 20 });
  const live = await open(t, dir, { pollIntervalMs: 20, debounceMs: 40 });
  closed.source.close();
  await kubeletWrite(dir, files(pairB));
  await waitFor(() => live.seen.length === 1);
  t.equal(closed.seen.length, 0);
  t.equal(closed.source.current().cert, pairA.cert);
});

t.test('an onChange that throws is logged and the source keeps going', async (t) => {
  const dir = await certDir(t, pairA);
  let calls = 0;
  const { log } = await open(t, dir, {
    onChange: () => {
      calls++;
      throw new Error('setSecureContext failed');
    },
  });
  await kubeletWrite(dir, files(pairB));
  await waitFor(() => calls === 1);
  await kubeletWrite(dir, files(pairC));
  await waitFor(() => calls === 2);
  t.match(log.lines.filter((l) => l.msg === 'applying the reloaded certificate failed'), [{ err: 'setSecureContext failed' }, {}]);
});

t.test('start-up fails clearly without a usable pair', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'cr-certdir-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const { logger } = captureLogger();
  const base = { logger, onChange: () => {} };
  await t.rejects(openCertDir({ ...base, dir: empty }), { message: new RegExp(`^cannot read the certificate in ${empty}: ENOENT`) });
  const bad = await certDir(t, pairA);
  await kubeletWrite(bad, { 'tls.crt': pairA.cert, 'tls.key': pairB.key });
  const err = await openCertDir({ ...base, dir: bad }).catch((e: Error) => e);
  t.match(err, { message: `certificate in ${bad} is unusable: private key does not match the certificate` });
  t.notMatch(String((err as Error).message), /PRIVATE/);
  await t.rejects(openCertDir({ ...base, dir: bad, debounceMs: -1 }), /debounceMs/);
  await t.rejects(openCertDir({ ...base, dir: bad, pollIntervalMs: 0 }), /pollIntervalMs/);
});

t.test('custom file names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cr-certdir-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'server.pem'), pairA.cert);
  await writeFile(join(dir, 'server-key.pem'), pairA.key);
  const { source } = await open(t, dir, { certFile: 'server.pem', keyFile: 'server-key.pem' });
  t.equal(source.current().cert, pairA.cert);
});

t.test('races: torn reads, changes during a reload, close during a reload, a failing stat', async (t) => {
  const dir = await certDir(t, pairA);
  const real = await import('node:fs/promises');
  const knobs = { tear: 0, statThrows: false, gate: undefined as Promise<void> | undefined, reads: 0 };
  const { openCertDir: openMocked } = await t.mockImport<typeof import('../../src/certs/file-source.ts')>('../../src/certs/file-source.ts', {
    'node:fs/promises': {
      ...real,
      // While `tear` > 0, every stat sees a different file: the pair looks torn.
      stat: (p: string) => {
        if (knobs.statThrows) throw new Error('stat exploded');
        return real.stat(p).then((s) => (knobs.tear > 0 && knobs.tear-- > 0 ? { ...s, mtimeMs: Math.random() } : s));
      },
      readFile: async (p: string, enc: BufferEncoding) => {
        knobs.reads++;
        await knobs.gate;
        return real.readFile(p, enc);
      },
    },
  });
  const log = captureLogger();
  const seen: CertPair[] = [];
  // Neither the watcher nor the poll fires during the test: only reload() reads, so every step is deterministic.
  const source = await openMocked({ dir, logger: log.logger, onChange: (p) => void seen.push(p), debounceMs: 600_000, pollIntervalMs: 600_000 });
  t.teardown(() => source.close());
  let release!: () => void;
  const arm = () => (knobs.gate = new Promise<void>((r) => (release = r)));
  const disarm = () => {
    release();
    knobs.gate = undefined;
  };

  await source.reload();
  t.equal(knobs.reads, 2, 'nothing changed: no read after the initial one');

  knobs.tear = 4;
  await kubeletWrite(dir, files(pairB));
  await source.reload();
  t.equal(knobs.tear, 0, 'the torn reads were retried');
  t.same(seen, [pairOf(pairB)]);

  // A request that lands while a reload is blocked in readFile runs right after it.
  arm();
  await kubeletWrite(dir, files(pairC));
  let before = knobs.reads;
  const first = source.reload();
  await waitFor(() => knobs.reads === before + 2); // both files' reads are waiting at the gate
  await kubeletWrite(dir, files(pairA));
  const second = source.reload();
  t.equal(second, first, 'concurrent callers share the run');
  disarm();
  await second;
  t.equal(source.current().cert, pairA.cert);

  // A failing stat is logged, not thrown.
  knobs.statThrows = true;
  await source.reload();
  knobs.statThrows = false;
  t.match(log.lines.find((l) => l.msg === 'certificate reload failed'), { err: 'stat exploded', level: 'error' });

  // close() while a reload is in flight: it finishes quietly, no callback.
  const count = seen.length;
  arm();
  await kubeletWrite(dir, files(pairC));
  before = knobs.reads;
  const last = source.reload();
  await waitFor(() => knobs.reads === before + 2);
  source.close();
  disarm();
  await last;
  t.equal(source.current().cert, pairC.cert, 'the pair read is still recorded');
  t.equal(seen.length, count, 'no callback after close()');
});

t.test('no watcher available: polling only, and said so', async (t) => {
  const dir = await certDir(t, pairA);
  const real = await import('node:fs');
  const emitters: EventEmitter[] = [];
  const load = (watch: unknown) =>
    t.mockImport<typeof import('../../src/certs/file-source.ts')>('../../src/certs/file-source.ts', { 'node:fs': { ...real, watch } });
  const throwing = await load(() => {
    throw new Error('ENOSPC: inotify watches exhausted');
  });
  const failing = await load(() => {
    const e = Object.assign(new EventEmitter(), { close: () => {} });
    emitters.push(e);
    return e;
  });
  for (const mod of [throwing, failing]) {
    const log = captureLogger();
    const seen: CertPair[] = [];
    const source = await mod.openCertDir({ dir, logger: log.logger, onChange: (p) => void seen.push(p), pollIntervalMs: 20 });
    t.teardown(() => source.close());
    emitters[0]?.emit('error', new Error('watch failed'));
    await waitFor(() => log.lines.some((l) => /polling only/.test(String(l.msg))));
    await kubeletWrite(dir, files(seen.length % 2 === 0 && source.current().cert === pairA.cert ? pairB : pairA));
    await waitFor(() => seen.length === 1);
  }
  t.pass('both fell back to polling');
});

t.test('provided mode end to end: new connections get the new certificate, keep-alive ones keep working', async (t) => {
  const dir = await certDir(t, pairA);
  const log = captureLogger();
  let app: ServerApp | undefined;
  const source = await openCertDir({ dir, logger: log.logger, onChange: (pair) => app?.setCertificate(pair), debounceMs: 20 });
  t.teardown(() => source.close());
  app = build({ admit: async () => ({ status: 200, review: allow('x'), result: 'unchanged' }), ready: () => true, tls: source.current(), logger: log.logger });
  t.teardown(() => app?.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;

  /** GET /healthz with a strict client; which socket carried it and which certificate it saw. */
  const get = (agent: Agent) =>
    new Promise<{ status?: number; socket: TLSSocket; fingerprint: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, servername: 'svc.ns.svc', path: '/healthz', agent }, (res) => {
        const socket = res.socket as TLSSocket; // detached from the response once it ends
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, socket, fingerprint }));
      });
      req.on('error', reject);
      req.end();
    });
  const strict = { ca: [ca.cert], rejectUnauthorized: true };
  const keepAlive = new Agent({ ...strict, keepAlive: true, maxSockets: 1 });
  t.teardown(() => keepAlive.destroy());
  const fpA = certInfo(pairA.cert).fingerprint256;
  const fpB = certInfo(pairB.cert).fingerprint256;

  const before = await get(keepAlive);
  t.equal(before.fingerprint, fpA);

  await kubeletWrite(dir, files(pairB));
  // Each probe is a new connection (new agent, no TLS session reuse).
  let fresh = await get(new Agent({ ...strict, keepAlive: false }));
  const end = Date.now() + 5000;
  while (fresh.fingerprint !== fpB && Date.now() < end) fresh = await get(new Agent({ ...strict, keepAlive: false }));
  t.equal(fresh.fingerprint, fpB, 'a new connection sees the new certificate');
  t.not(certInfo(pairB.cert).serialNumber, certInfo(pairA.cert).serialNumber);

  const after = await get(keepAlive);
  t.equal(after.status, 200, 'the keep-alive connection still works');
  t.equal(after.socket, before.socket, 'on the same socket');
  t.equal(after.fingerprint, fpA, 'which keeps the certificate it was opened with');
});
