/**
 * When must a certificate be replaced? Pure: the caller passes the clock.
 */
import { X509Certificate } from 'node:crypto';
import { normalizeIp, parseSubjectAltName } from './names.ts';

/**
 * Renew once less than a third of the lifetime is left: a 1-year serving
 * certificate is renewed ~4 months before expiry, leaving months of margin for
 * a controller that is down or a CA bundle that is slow to propagate.
 */
export const DEFAULT_RENEW_BEFORE_FRACTION = 1 / 3;

export interface RenewalPolicy {
  /** Renew when less than this fraction of the lifetime remains (0..1; default 1/3). */
  renewBeforeFraction?: number;
  /** Also renew when the certificate expires within this many milliseconds. */
  renewBeforeMs?: number;
  /** DNS names the certificate must carry (extra names in it are fine). */
  dnsNames?: readonly string[];
  /** IP addresses the certificate must carry. */
  ipAddresses?: readonly string[];
  /** PEM of the CA that must have signed it (a replaced CA means reissue). */
  issuerCaPem?: string;
}

export interface RenewalDecision {
  renew: boolean;
  /** Why (or `valid` when no renewal is needed); safe to log. */
  reason: string;
  /** When time alone will make it due; undefined if the certificate did not parse. */
  renewAt?: Date;
}

/**
 * Decide whether `certPem` must be renewed at `now`: unparseable, expired,
 * inside the renewal window (fraction of lifetime or fixed duration, whichever
 * comes first), missing a wanted SAN, or not issued by `issuerCaPem`.
 */
export function needsRenewal(certPem: string, now: Date, policy: RenewalPolicy = {}): RenewalDecision {
  const fraction = policy.renewBeforeFraction ?? DEFAULT_RENEW_BEFORE_FRACTION;
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`renewBeforeFraction must be within 0..1, got ${fraction}`);
  if (policy.renewBeforeMs !== undefined && !(policy.renewBeforeMs >= 0)) {
    throw new Error(`renewBeforeMs must be >= 0, got ${policy.renewBeforeMs}`);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { renew: true, reason: 'certificate does not parse' };
  }
  const notBefore = cert.validFromDate.getTime();
  const notAfter = cert.validToDate.getTime();
  const byFraction = notAfter - (notAfter - notBefore) * fraction;
  const byDuration = policy.renewBeforeMs === undefined ? Infinity : notAfter - policy.renewBeforeMs;
  const renewAt = new Date(Math.min(byFraction, byDuration));
  const t = now.getTime();

  if (t >= notAfter) return { renew: true, reason: `expired at ${cert.validToDate.toISOString()}`, renewAt };
  if (t >= renewAt.getTime()) {
    return { renew: true, reason: `expires at ${cert.validToDate.toISOString()}, renewal was due at ${renewAt.toISOString()}`, renewAt };
  }
  const missing = missingNames(cert, policy);
  if (missing.length > 0) return { renew: true, reason: `subjectAltName lacks ${missing.join(', ')}`, renewAt };
  if (policy.issuerCaPem !== undefined && !issuedBy(cert, policy.issuerCaPem)) {
    return { renew: true, reason: 'not issued by the current CA', renewAt };
  }
  return { renew: false, reason: 'valid', renewAt };
}

function missingNames(cert: X509Certificate, policy: RenewalPolicy): string[] {
  const have = parseSubjectAltName(cert.subjectAltName);
  const dns = new Set(have.dnsNames.map((n) => n.toLowerCase()));
  const ips = new Set(have.ipAddresses);
  return [
    ...(policy.dnsNames ?? []).filter((n) => !dns.has(n.toLowerCase())).map((n) => `DNS:${n}`),
    ...(policy.ipAddresses ?? []).filter((ip) => !ips.has(normalizeIp(ip))).map((ip) => `IP:${ip}`),
  ];
}

function issuedBy(cert: X509Certificate, caPem: string): boolean {
  try {
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}
