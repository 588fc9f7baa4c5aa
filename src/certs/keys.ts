/**
 * Native, non-blocking key material: RSA key generation and signing run on
 * libuv's thread pool through Node's crypto callbacks, so the event loop keeps
 * serving admissions while a certificate is issued.
 *
 * Why not node-forge for these: forge's RSA-2048 key generation runs on the
 * event loop — through Node's synchronous generateKeyPairSync (40–200 ms) or
 * in pure JS (0.5–2 s measured) — and a cold forge signature took ~80 ms.
 * With this module, issuing a CA plus a serving certificate delays the loop
 * by at most ~10–20 ms (DER encoding, first-call compilation); see
 * bench/certs.ts. forge is kept for what it is good at: the X.509 structure.
 */
import { generateKeyPair, sign } from 'node:crypto';

/** RSA key pair as PEM: PKCS#8 private key (`BEGIN PRIVATE KEY`), SPKI public key. */
export interface RsaKeyPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** RSA-2048 is what the API server, Go and every TLS stack accept without question. */
export const RSA_MODULUS_BITS = 2048;

/** Generate an RSA key pair on the thread pool (does not block the event loop). */
export function generateRsaKey(bits: number = RSA_MODULUS_BITS): Promise<RsaKeyPem> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength: bits,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      },
      (err, publicKeyPem, privateKeyPem) => {
        if (err) reject(new Error(`RSA key generation failed: ${err.message}`));
        else resolve({ privateKeyPem, publicKeyPem });
      },
    );
  });
}

/**
 * RSASSA-PKCS1-v1_5 with SHA-256 of `data` (sha256WithRSAEncryption), computed
 * on the thread pool. The error never carries the key.
 */
export function signSha256Rsa(data: Buffer, privateKeyPem: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(new Error(`signing failed: ${err.message}`));
    try {
      // A key that does not parse throws here, synchronously; signing errors arrive in the callback.
      // c8 cannot reach the callback's error: every bad key we can build already fails synchronously.
      /* c8 ignore next */
      sign('sha256', data, privateKeyPem, (err, signature) => (err ? fail(err) : resolve(signature)));
    } catch (err) {
      fail(err as Error);
    }
  });
}
