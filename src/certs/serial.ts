/**
 * Certificate serial numbers: 128 random bits (RFC 5280 allows up to 20
 * octets; CA/Browser rules want at least 64 bits of entropy), encoded as a
 * positive, minimally encoded DER INTEGER — Go's encoding/asn1 (hence the API
 * server) rejects a non-minimal integer, and a set top bit would make the
 * serial negative.
 */
import { randomBytes } from 'node:crypto';

const SERIAL_BYTES = 16;

/** Hex of the serial's DER INTEGER content octets, as node-forge expects it. */
export function randomSerialHex(random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(SERIAL_BYTES);
  // Zero is not a valid serial; the chance is 2^-128, but make it impossible.
  if (bytes.every((b) => b === 0)) bytes[bytes.length - 1] = 1;
  let start = 0;
  while (bytes[start] === 0) start++; // minimal encoding: no leading zero octets...
  const hex = bytes.subarray(start).toString('hex');
  // ...except one 0x00 to keep the value positive when the top bit is set.
  return (bytes[start]! & 0x80) !== 0 ? `00${hex}` : hex;
}
