/**
 * Issue the webhook's CA and serving certificate. node-forge builds the X.509
 * structures; keys are generated and the TBSCertificate signed by Node's
 * native crypto on the thread pool (see keys.ts), so issuing never blocks the
 * event loop for more than the few milliseconds of DER encoding.
 */
import { isIP } from 'node:net';
import forge from 'node-forge';
import { generateRsaKey, signSha256Rsa } from './keys.ts';
import { randomSerialHex } from './serial.ts';
import { normalizeIp } from './names.ts';
import type { CertPair, IssuedCert } from './types.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * notBefore is set this far in the past: a replica or API server whose clock
 * runs a few minutes behind ours would otherwise see a not-yet-valid
 * certificate right after it is issued.
 */
export const BACKDATE_MS = 5 * 60 * 1000;
/** X.520 upper bound of a commonName (ub-common-name); longer names go only into the SAN. */
const MAX_CN_LENGTH = 64;
const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export interface CreateCAOptions {
  commonName: string;
  validityDays: number;
  /** Issue time; defaults to now (tests pass a fixed clock). */
  now?: Date;
}

export interface CreateServingCertOptions {
  /** The issuing CA (as returned by `createCA`). */
  ca: CertPair;
  dnsNames: readonly string[];
  ipAddresses?: readonly string[];
  validityDays: number;
  /** Defaults to the first DNS name that fits in a commonName, else the first IP. */
  commonName?: string;
  now?: Date;
}

// Not in @types/node-forge, but part of forge's public pki API.
const pki = forge.pki as typeof forge.pki & {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

/** A fresh RSA key and an unsigned certificate for it: random serial, the given validity. */
async function newCertificate(start: Date, end: Date): Promise<{ key: Awaited<ReturnType<typeof generateRsaKey>>; cert: forge.pki.Certificate }> {
  const key = await generateRsaKey();
  const cert = pki.createCertificate();
  cert.publicKey = pki.publicKeyFromPem(key.publicKeyPem);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = start;
  cert.validity.notAfter = end;
  return { key, cert };
}

/**
 * Create a self-signed CA (RSA-2048, SHA-256): basicConstraints cA (critical,
 * pathLen 0: it only signs serving certificates), keyUsage keyCertSign and
 * cRLSign (critical), subjectKeyIdentifier. Returns PEMs.
 */
export async function createCA(opts: CreateCAOptions): Promise<CertPair> {
  const commonName = requireCommonName(opts.commonName);
  const { start, end } = validity(opts.validityDays, opts.now);
  const { key, cert } = await newCertificate(start, end);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  return { cert: await signAndEncode(cert, key.privateKeyPem), key: key.privateKeyPem };
}

/**
 * Create a serving certificate signed by `ca`: subjectAltName with every DNS
 * name and IP (the API server, like all Go clients, ignores the commonName),
 * keyUsage digitalSignature + keyEncipherment, extKeyUsage serverAuth,
 * authorityKeyIdentifier pointing at the CA. Returns cert, key and CA PEMs.
 */
export async function createServingCert(opts: CreateServingCertOptions): Promise<IssuedCert> {
  const dnsNames = opts.dnsNames.map(requireDnsName);
  const ipAddresses = (opts.ipAddresses ?? []).map(requireIp);
  if (dnsNames.length + ipAddresses.length === 0) {
    throw new Error('a serving certificate needs at least one DNS name or IP address');
  }
  const commonName = requireCommonName(
    opts.commonName ?? dnsNames.find((n) => n.length <= MAX_CN_LENGTH) ?? ipAddresses[0] ?? 'config-reloader',
  );
  const caCert = parseCaCert(opts.ca.cert);
  const { start, end } = validity(opts.validityDays, opts.now);
  if (end > caCert.validity.notAfter) {
    throw new Error(`serving certificate would outlive its CA (CA expires ${caCert.validity.notAfter.toISOString()})`);
  }
  const { key, cert } = await newCertificate(start, end);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...dnsNames.map((value) => ({ type: 2, value })), // dNSName
        ...ipAddresses.map((ip) => ({ type: 7, ip })), // iPAddress
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier(caCert) },
  ]);
  return { cert: await signAndEncode(cert, opts.ca.key), key: key.privateKeyPem, ca: opts.ca.cert };
}

/** Sign the TBSCertificate with sha256WithRSAEncryption on the thread pool; return the PEM. */
async function signAndEncode(cert: forge.pki.Certificate, signerKeyPem: string): Promise<string> {
  cert.signatureOid = cert.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption!;
  cert.tbsCertificate = pki.getTBSCertificate(cert);
  const tbsDer = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = (await signSha256Rsa(tbsDer, signerKeyPem)).toString('binary');
  return pki.certificateToPem(cert);
}

function parseCaCert(pem: string): forge.pki.Certificate {
  let cert: forge.pki.Certificate;
  try {
    cert = pki.certificateFromPem(pem);
  } catch (err) {
    throw new Error(`CA certificate is not a PEM RSA certificate: ${(err as Error).message}`);
  }
  const bc = cert.getExtension('basicConstraints') as { cA?: boolean } | undefined;
  if (bc?.cA !== true) throw new Error('CA certificate lacks basicConstraints cA=true');
  return cert;
}

/** The CA's own subjectKeyIdentifier (binary string), or the RFC 5280 method-1 hash of its key. */
function caKeyIdentifier(caCert: forge.pki.Certificate): string {
  const ski = caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  if (ski?.subjectKeyIdentifier) return forge.util.hexToBytes(ski.subjectKeyIdentifier);
  return caCert.generateSubjectKeyIdentifier().getBytes();
}

function validity(validityDays: number, now: Date = new Date()): { start: Date; end: Date } {
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new Error(`validityDays must be a positive number, got ${validityDays}`);
  }
  return { start: new Date(now.getTime() - BACKDATE_MS), end: new Date(now.getTime() + validityDays * DAY_MS) };
}

function requireCommonName(cn: string): string {
  if (typeof cn !== 'string' || cn.length === 0 || cn.length > MAX_CN_LENGTH) {
    throw new Error(`commonName must be 1..${MAX_CN_LENGTH} characters, got ${JSON.stringify(cn)}`);
  }
  return cn;
}

function requireDnsName(name: string): string {
  if (typeof name !== 'string' || name.length > 253 || !DNS_NAME.test(name)) {
    throw new Error(`not a valid DNS name for a subjectAltName: ${JSON.stringify(name)}`);
  }
  return name.toLowerCase();
}

function requireIp(ip: string): string {
  if (typeof ip !== 'string' || isIP(ip) === 0) {
    throw new Error(`not a valid IP address for a subjectAltName: ${JSON.stringify(ip)}`);
  }
  return normalizeIp(ip);
}
