import t from 'tap';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { createCA, createServingCert, BACKDATE_MS } from '../../src/certs/issue.ts';
import { certInfo, checkPair, parseCert } from '../../src/certs/info.ts';
import { needsRenewal } from '../../src/certs/renewal.ts';
import { normalizeIp, parseSubjectAltName } from '../../src/certs/names.ts';
import { randomSerialHex } from '../../src/certs/serial.ts';
import { generateRsaKey, signSha256Rsa } from '../../src/certs/keys.ts';
import forge from 'node-forge';

const subjectKeyId = (pem: string) =>
  (forge.pki.certificateFromPem(pem).getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string }).subjectKeyIdentifier;
/** Hex of the keyIdentifier inside an authorityKeyIdentifier extension ([0] IMPLICIT OCTET STRING). */
const authorityKeyId = (pem: string) => {
  const ext = forge.pki.certificateFromPem(pem).getExtension('authorityKeyIdentifier') as { value: string };
  const seq = forge.asn1.fromDer(ext.value);
  const id = (seq.value as forge.asn1.Asn1[])[0]!;
  return forge.util.bytesToHex(id.value as string);
};

const DAY = 24 * 60 * 60 * 1000;
const now = new Date('2026-01-01T00:00:00Z');
const ca = await createCA({ commonName: 'config-reloader-ca', validityDays: 3650, now });
const dnsNames = ['config-reloader', 'config-reloader.config-reloader', 'config-reloader.config-reloader.svc'];
const leaf = await createServingCert({ ca, dnsNames, ipAddresses: ['127.0.0.1', '0:0:0:0:0:0:0:1'], validityDays: 365, now });

t.test('CA: self-signed, cA, keyCertSign, lifetime', async (t) => {
  const x = new X509Certificate(ca.cert);
  t.ok(x.ca, 'basicConstraints cA');
  t.ok(x.checkIssued(x) && x.verify(x.publicKey), 'self-signed, signature valid');
  t.equal(x.subject, 'CN=config-reloader-ca');
  t.equal(x.validFromDate.getTime(), now.getTime() - BACKDATE_MS);
  t.equal(x.validToDate.getTime(), now.getTime() + 3650 * DAY);
  t.ok(x.checkPrivateKey(createPrivateKey(ca.key)), 'key is the certificate key');
  t.match(ca.key, /^-----BEGIN PRIVATE KEY-----/);
  t.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  const info = certInfo(ca.cert);
  t.equal(info.isCA, true);
  t.same(info.dnsNames, []);
  // X509Certificate does not expose keyUsage or basicConstraints details: read them with forge.
  const f = forge.pki.certificateFromPem(ca.cert);
  t.match(f.getExtension('basicConstraints'), { cA: true, critical: true, pathLenConstraint: 0 });
  t.match(f.getExtension('keyUsage'), { keyCertSign: true, cRLSign: true, critical: true });
  t.ok(f.getExtension('subjectKeyIdentifier'));
});

t.test('serving cert: SANs, serverAuth, chain to the CA', async (t) => {
  const x = new X509Certificate(leaf.cert);
  const caX = new X509Certificate(ca.cert);
  t.notOk(x.ca);
  t.ok(x.checkIssued(caX), 'issuer matches the CA subject');
  t.ok(x.verify(caX.publicKey), 'signed by the CA key');
  t.equal(leaf.ca, ca.cert, 'returns the CA certificate as the bundle');
  t.same(x.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth');
  t.equal(x.subject, 'CN=config-reloader');
  t.equal(x.validToDate.getTime(), now.getTime() + 365 * DAY);
  const info = certInfo(leaf.cert);
  t.same(info.dnsNames, dnsNames);
  t.same(info.ipAddresses, ['127.0.0.1', '::1']);
  t.equal(info.serialNumber, x.serialNumber);
  t.equal(info.fingerprint256, x.fingerprint256);
  t.equal(checkPair(leaf), undefined);
  t.not(x.serialNumber, new X509Certificate(ca.cert).serialNumber);
  const f = forge.pki.certificateFromPem(leaf.cert);
  t.match(f.getExtension('basicConstraints'), { cA: false, critical: true });
  t.match(f.getExtension('keyUsage'), { digitalSignature: true, keyEncipherment: true, keyCertSign: false, critical: true });
  t.match(f.getExtension('extKeyUsage'), { serverAuth: true });
  t.equal(authorityKeyId(leaf.cert), subjectKeyId(ca.cert), "authorityKeyIdentifier is the CA's subjectKeyIdentifier");
});

t.test('a CA without subjectKeyIdentifier: the key identifier is derived from its key', async (t) => {
  const f = forge.pki.createCertificate();
  f.publicKey = forge.pki.publicKeyFromPem(new X509Certificate(ca.cert).publicKey.export({ type: 'spki', format: 'pem' }) as string);
  f.serialNumber = '01';
  f.validity.notBefore = now;
  f.validity.notAfter = new Date(now.getTime() + 10 * DAY);
  f.setSubject([{ name: 'commonName', value: 'bare-ca' }]);
  f.setIssuer([{ name: 'commonName', value: 'bare-ca' }]);
  f.setExtensions([{ name: 'basicConstraints', cA: true }]);
  f.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  const bare = { cert: forge.pki.certificateToPem(f), key: ca.key };
  const issued = await createServingCert({ ca: bare, dnsNames: ['x.example'], validityDays: 1, now });
  t.equal(authorityKeyId(issued.cert), forge.pki.getPublicKeyFingerprint(f.publicKey, { encoding: 'hex' }));
  t.ok(new X509Certificate(issued.cert).verify(new X509Certificate(bare.cert).publicKey));
});

t.test('native key helpers fail with key-free messages', async (t) => {
  await t.rejects(generateRsaKey(1), /^RSA key generation failed/);
  await t.rejects(signSha256Rsa(Buffer.from('x'), 'not a key'), /^signing failed: error:/);
  const key = await generateRsaKey();
  t.match(key.publicKeyPem, /BEGIN PUBLIC KEY/);
});

t.test('serving cert: commonName choice and validation', async (t) => {
  const long = `${'a'.repeat(60)}.example.com`;
  const c1 = await createServingCert({ ca, dnsNames: [long, 'short.example'], validityDays: 1, now });
  t.equal(certInfo(c1.cert).subject, 'CN=short.example', 'a name longer than 64 characters is not a CN');
  const c2 = await createServingCert({ ca, dnsNames: [], ipAddresses: ['10.0.0.1'], validityDays: 1, now });
  t.equal(certInfo(c2.cert).subject, 'CN=10.0.0.1');
  const c3 = await createServingCert({ ca, dnsNames: ['Upper.Example'], validityDays: 1, commonName: 'custom', now });
  t.same(certInfo(c3.cert).dnsNames, ['upper.example']);
  t.equal(certInfo(c3.cert).subject, 'CN=custom');
  const c4 = await createServingCert({ ca, dnsNames: [long], validityDays: 1, now });
  t.equal(certInfo(c4.cert).subject, 'CN=config-reloader', 'fallback CN');

  await t.rejects(createServingCert({ ca, dnsNames: [], validityDays: 1 }), /at least one DNS name or IP/);
  await t.rejects(createServingCert({ ca, dnsNames: ['bad name'], validityDays: 1 }), /not a valid DNS name/);
  await t.rejects(createServingCert({ ca, dnsNames: ['a'], ipAddresses: ['300.1.1.1'], validityDays: 1 }), /not a valid IP/);
  await t.rejects(createServingCert({ ca, dnsNames: ['a'], validityDays: 0 }), /validityDays must be a positive number/);
  await t.rejects(createServingCert({ ca, dnsNames: ['a'], validityDays: 4000, now }), /outlive its CA/);
  await t.rejects(createServingCert({ ca: { cert: 'junk', key: ca.key }, dnsNames: ['a'], validityDays: 1 }), /CA certificate is not a PEM RSA certificate/);
  await t.rejects(createServingCert({ ca: { cert: leaf.cert, key: leaf.key }, dnsNames: ['a'], validityDays: 1 }), /lacks basicConstraints cA=true/);
  await t.rejects(createCA({ commonName: '', validityDays: 1 }), /commonName must be/);
  await t.rejects(createServingCert({ ca, dnsNames: ['a'], validityDays: 1, commonName: 'x'.repeat(65) }), /commonName must be/);
  const wildcard = await createServingCert({ ca, dnsNames: ['*.example.com'], validityDays: 1, now });
  t.same(certInfo(wildcard.cert).dnsNames, ['*.example.com']);
});

t.test('random serials: positive, minimal DER, distinct', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const hex = randomSerialHex();
    t.ok(hex.length >= 2 && hex.length <= 34 && hex.length % 2 === 0);
    const first = Number.parseInt(hex.slice(0, 2), 16);
    if (first === 0) t.ok(Number.parseInt(hex.slice(2, 4), 16) >= 0x80, 'a leading 00 only before a high bit');
    else t.ok(first < 0x80, 'positive');
    seen.add(hex);
  }
  t.equal(seen.size, 200);
  const fixed = (bytes: number[]) => () => Buffer.from(bytes);
  t.equal(randomSerialHex(fixed([0x80, ...Array(15).fill(1)])), `0080${'01'.repeat(15)}`);
  t.equal(randomSerialHex(fixed([0, 0, 0x7f, ...Array(13).fill(0)])), `7f${'00'.repeat(13)}`);
  t.equal(randomSerialHex(fixed([0, 0x90, ...Array(14).fill(0)])), `0090${'00'.repeat(14)}`);
  t.equal(randomSerialHex(fixed(Array(16).fill(0))), '01', 'never zero');
});

t.test('certInfo and checkPair reject what is not a certificate or a matching key', async (t) => {
  t.throws(() => certInfo('nope'), /not a valid PEM certificate/);
  t.throws(() => parseCert(''), /not a valid PEM certificate/);
  t.equal(checkPair({ cert: 'nope', key: leaf.key }), 'not a valid PEM certificate');
  t.equal(checkPair({ cert: leaf.cert, key: 'nope' }), 'private key is not a valid PEM key');
  t.equal(checkPair({ cert: leaf.cert, key: ca.key }), 'private key does not match the certificate');
  // a chain (leaf first) is read as its leaf
  t.equal(certInfo(leaf.cert + ca.cert).serialNumber, certInfo(leaf.cert).serialNumber);
});

t.test('SAN text parsing and IP normalisation', async (t) => {
  t.same(parseSubjectAltName(undefined), { dnsNames: [], ipAddresses: [] });
  t.same(parseSubjectAltName('DNS:a.b, DNS:"we\\u002cird", IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe://x'), {
    dnsNames: ['a.b', 'we,ird'],
    ipAddresses: ['127.0.0.1', '::1'],
  });
  t.same(parseSubjectAltName('email:"a\\"b", DNS:z'), { dnsNames: ['z'], ipAddresses: [] });
  t.same(parseSubjectAltName('garbage'), { dnsNames: [], ipAddresses: [] });
  t.equal(normalizeIp('FE80:0:0:0:0:0:0:1'), 'fe80::1');
  t.equal(normalizeIp('10.0.0.1'), '10.0.0.1');
  t.equal(normalizeIp('not-an-ip'), 'not-an-ip');
});

t.test('needsRenewal', async (t) => {
  const issued = now.getTime() - BACKDATE_MS;
  const end = now.getTime() + 365 * DAY;
  const lifetime = end - issued;
  const at = (ms: number) => new Date(ms);
  const due = end - lifetime / 3;

  const fresh = needsRenewal(leaf.cert, now, { dnsNames, ipAddresses: ['::1', '127.0.0.1'], issuerCaPem: ca.cert });
  t.same(fresh, { renew: false, reason: 'valid', renewAt: at(due) });
  t.equal(needsRenewal(leaf.cert, at(due - 1)).renew, false, 'just before 1/3 of the lifetime remains');
  t.match(needsRenewal(leaf.cert, at(due)), { renew: true, reason: /renewal was due at/ });
  t.match(needsRenewal(leaf.cert, at(end)), { renew: true, reason: /^expired at/ });
  // a fixed duration wins when it comes first
  const d = needsRenewal(leaf.cert, now, { renewBeforeFraction: 0, renewBeforeMs: 30 * DAY });
  t.same(d.renewAt, at(end - 30 * DAY));
  t.equal(needsRenewal(leaf.cert, at(end - 30 * DAY - 1), { renewBeforeFraction: 0, renewBeforeMs: 30 * DAY }).renew, false);
  t.equal(needsRenewal(leaf.cert, at(end - 30 * DAY), { renewBeforeFraction: 0, renewBeforeMs: 30 * DAY }).renew, true);
  t.same(needsRenewal(leaf.cert, now, { renewBeforeMs: 300 * DAY }).renewAt, at(end - 300 * DAY), 'earliest threshold wins');

  t.match(needsRenewal(leaf.cert, now, { dnsNames: ['config-reloader', 'other.svc'], ipAddresses: ['10.0.0.9'] }), {
    renew: true,
    reason: 'subjectAltName lacks DNS:other.svc, IP:10.0.0.9',
  });
  t.equal(needsRenewal(leaf.cert, now, { dnsNames: ['CONFIG-RELOADER'] }).renew, false, 'DNS names compare case-insensitively');
  const otherCa = await createCA({ commonName: 'config-reloader-ca', validityDays: 3650, now });
  t.match(needsRenewal(leaf.cert, now, { issuerCaPem: otherCa.cert }), { renew: true, reason: 'not issued by the current CA' });
  t.match(needsRenewal(leaf.cert, now, { issuerCaPem: 'junk' }), { renew: true, reason: 'not issued by the current CA' });
  t.same(needsRenewal('junk', now), { renew: true, reason: 'certificate does not parse' });
  t.throws(() => needsRenewal(leaf.cert, now, { renewBeforeFraction: 2 }), /renewBeforeFraction/);
  t.throws(() => needsRenewal(leaf.cert, now, { renewBeforeMs: -1 }), /renewBeforeMs/);
  t.equal(needsRenewal(ca.cert, now).renew, false, 'works for the CA too');
});

t.test('a key of another type (ECDSA, as cert-manager may issue) is checked natively', async (t) => {
  // Key checks go through Node, not forge (RSA-only): an EC key is parsed and found not to match.
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  t.equal(checkPair({ cert: leaf.cert, key: ec }), 'private key does not match the certificate');
});
