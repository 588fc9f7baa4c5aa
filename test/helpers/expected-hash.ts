/**
 * The tests' own statement of Reloader's hash, written from DESIGN.md §3 and
 * not from src/core/hash.ts, so an e2e assertion never trusts the code under
 * test: entries `key=value` as raw bytes, sorted bytewise, joined with ";".
 */
import { createHash } from 'node:crypto';

function sha1OfEntries(entries: Buffer[]): string {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a, b));
  const joined: Buffer[] = [];
  sorted.forEach((e, i) => joined.push(...(i ? [Buffer.from(';'), e] : [e])));
  return createHash('sha1').update(Buffer.concat(joined)).digest('hex');
}

/** ConfigMap: `data` as text, `binaryData` as raw bytes (re-encoded base64 in the hash). */
export function expectedConfigMapHash(data: Record<string, string>, binaryData: Record<string, Buffer> = {}): string {
  return sha1OfEntries([
    ...Object.entries(data).map(([k, v]) => Buffer.from(`${k}=${v}`)),
    ...Object.entries(binaryData).map(([k, v]) => Buffer.from(`${k}=${v.toString('base64')}`)),
  ]);
}

/** Secret: raw value bytes. */
export function expectedSecretHash(data: Record<string, Buffer>): string {
  return sha1OfEntries(Object.entries(data).map(([k, v]) => Buffer.concat([Buffer.from(`${k}=`), v])));
}

/** Reloader's env var name, restated: uppercase, runs of non [A-Z0-9] → one "_" after a kept char. */
export function expectedEnvName(kind: 'CONFIGMAP' | 'SECRET', name: string): string {
  return `STAKATER_${name.toUpperCase().replace(/[^A-Z0-9]+/g, (_m, offset: number) => (offset === 0 ? '' : '_'))}_${kind}`;
}
