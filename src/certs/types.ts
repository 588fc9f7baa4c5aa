/**
 * PEM shapes shared by certificate generation, the provided-certificate file
 * source and the HTTPS server. Private keys travel only inside these objects:
 * never log them, never put them into an error message.
 */

/** A certificate (PEM, possibly a chain, leaf first) and its private key (PEM). */
export interface CertPair {
  cert: string;
  key: string;
}

/** A serving certificate as issued by our CA, plus the CA certificate (the caBundle). */
export interface IssuedCert extends CertPair {
  /** PEM of the issuing CA's certificate. */
  ca: string;
}

/** What `certInfo` reads from a certificate. */
export interface CertInfo {
  subject: string;
  issuer: string;
  /** Uppercase hex, no leading zeros, as Node prints it. */
  serialNumber: string;
  /** SHA-256 fingerprint, colon-separated uppercase hex. */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  /** IP SANs in canonical form (`normalizeIp`: IPv6 compressed, `::1`). */
  ipAddresses: string[];
  isCA: boolean;
}
