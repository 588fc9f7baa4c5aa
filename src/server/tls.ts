/**
 * The serving certificate of the HTTPS server and its hot swap.
 *
 * `tls.Server#setSecureContext` replaces the context used by *new* handshakes
 * only: established (keep-alive) connections keep theirs, so nothing is
 * restarted or dropped when cert-manager or our own rotation renews it.
 */
import type { Server as TlsServer, SecureVersion } from 'node:tls';
import type { ServerOptions } from 'node:https';
import { certInfo, checkPair } from '../certs/info.ts';
import type { CertInfo, CertPair } from '../certs/types.ts';

/** TLS 1.0/1.1 are deprecated (RFC 8996); the API server speaks 1.2 and 1.3. */
export const TLS_MIN_VERSION: SecureVersion = 'TLSv1.2';

/** Options for `https.createServer`; without a pair, handshakes fail until `set()`. */
export function httpsOptions(pair: CertPair | undefined): ServerOptions {
  return pair ? { minVersion: TLS_MIN_VERSION, cert: pair.cert, key: pair.key } : { minVersion: TLS_MIN_VERSION };
}

/** The server's certificate state, shared by the swap function and /readyz. */
export interface CertificateSlot {
  /** Info of the certificate being served, undefined until one is loaded. */
  current(): CertInfo | undefined;
  /**
   * Serve `pair` for new connections. Throws (with a message that never
   * contains the key) if the pair is invalid; the previous one stays.
   */
  set(pair: CertPair): CertInfo;
}

/**
 * Create the slot for `server`; `initial` is the info of the pair the server
 * was created with (from `inspectPair`), if any.
 */
export function createCertificateSlot(server: TlsServer, initial: CertInfo | undefined): CertificateSlot {
  let info = initial;
  return {
    current: () => info,
    set(pair: CertPair): CertInfo {
      const next = inspectPair(pair);
      // minVersion is passed again: setSecureContext builds a fresh context.
      server.setSecureContext({ minVersion: TLS_MIN_VERSION, cert: pair.cert, key: pair.key });
      info = next;
      return next;
    },
  };
}

/** Validate a pair (parses, key matches) and return its info; throws a key-free message otherwise. */
export function inspectPair(pair: CertPair): CertInfo {
  const problem = checkPair(pair);
  if (problem !== undefined) throw new Error(`cannot serve this certificate: ${problem}`);
  return certInfo(pair.cert);
}
