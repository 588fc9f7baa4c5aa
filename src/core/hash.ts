/**
 * Reloader-compatible SHA1 of a ConfigMap or Secret (DESIGN.md §3).
 *
 * Byte-identical to stakater/Reloader so a cluster can switch over without a
 * restart: one list of `key=value` entries, sorted like Go's `sort.Strings`
 * (by the UTF-8 bytes of the whole entry, so `a.b=…` sorts before `a=…`
 * because '.' (0x2e) < '=' (0x3d)), joined with ";", SHA1, lowercase hex.
 */
import { createHash } from 'node:crypto';
import type { StringMap } from './types.ts';

const SEMICOLON = Buffer.from(';');
const EQUALS = Buffer.from('=');

/** SHA1 over entries sorted by bytes and joined with ";". */
function digest(entries: Buffer[]): string {
  entries.sort(Buffer.compare);
  const h = createHash('sha1');
  entries.forEach((e, i) => {
    if (i > 0) h.update(SEMICOLON);
    h.update(e);
  });
  return h.digest('hex');
}

function entry(key: string, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(key, 'utf8'), EQUALS, value]);
}

/**
 * Hash of a ConfigMap: `key=value` for `data`, `key=base64(bytes)` for
 * `binaryData`. binaryData arrives base64-encoded on the wire; it is decoded
 * and re-encoded (standard alphabet, padded) as Go's base64.StdEncoding does,
 * so a non-canonical encoding cannot change the hash.
 */
export function hashConfigMap(data?: StringMap | null, binaryData?: StringMap | null): string {
  const entries: Buffer[] = [];
  for (const [k, v] of Object.entries(data ?? {})) entries.push(entry(k, Buffer.from(v, 'utf8')));
  for (const [k, v] of Object.entries(binaryData ?? {})) {
    entries.push(entry(k, Buffer.from(Buffer.from(v, 'base64').toString('base64'), 'latin1')));
  }
  return digest(entries);
}

/**
 * Hash of a Secret: `key=rawBytes` for each `data` entry (values base64 on the
 * wire). The bytes are never decoded as text: Go hashes `string(bytes)`,
 * which is the raw bytes, valid UTF-8 or not. `stringData`, type, labels and
 * annotations are not hashed.
 */
export function hashSecret(data?: StringMap | null): string {
  const entries: Buffer[] = [];
  for (const [k, v] of Object.entries(data ?? {})) entries.push(entry(k, Buffer.from(v, 'base64')));
  return digest(entries);
}
