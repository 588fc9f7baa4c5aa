/**
 * Read certificates with Node's native X509Certificate: works for any key
 * type (cert-manager issues ECDSA as often as RSA), unlike node-forge.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { parseSubjectAltName } from './names.ts';
import type { CertInfo, CertPair } from './types.ts';

/**
 * Parse the first certificate of a PEM (the leaf of a chain). Throws a short
 * error when it is not a certificate.
 */
export function certInfo(pem: string): CertInfo {
  const x = parseCert(pem);
  const { dnsNames, ipAddresses } = parseSubjectAltName(x.subjectAltName);
  return {
    subject: x.subject,
    issuer: x.issuer,
    serialNumber: x.serialNumber,
    fingerprint256: x.fingerprint256,
    notBefore: x.validFromDate,
    notAfter: x.validToDate,
    dnsNames,
    ipAddresses,
    isCA: x.ca,
  };
}

/**
 * Check a certificate/key pair before it is served: both parse and the key
 * is the certificate's. Returns an error message (never containing the key)
 * or undefined when the pair is good.
 */
export function checkPair(pair: CertPair): string | undefined {
  let cert: X509Certificate;
  try {
    cert = parseCert(pair.cert);
  } catch (err) {
    return (err as Error).message;
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(pair.key));
  } catch {
    // The underlying error may quote OpenSSL's decoder; say only what failed.
    return 'private key is not a valid PEM key';
  }
  return matches ? undefined : 'private key does not match the certificate';
}

/** Parse a PEM certificate; the error says what it is not, nothing more. */
export function parseCert(pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new Error('not a valid PEM certificate');
  }
}
