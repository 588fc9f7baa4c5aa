/**
 * Summarise a V8 .heapsnapshot (e.g. from `bench/memory.ts --heap-snapshot
 * DIR`): self size by object type and constructor name, the biggest strings'
 * prefixes, and counts of a few objects that tell a story (TLS sockets,
 * SecureContexts, undici Agents, Maps). Self sizes only: cheap to compute and
 * enough to see what dominates; retained sizes need a dominator tree.
 *
 *   node bench/lib/heap-summary.ts FILE.heapsnapshot [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { table } from './stats.ts';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  strings: string[];
}

export function summarizeHeap(snap: Snapshot, top: number): string {
  const f = snap.snapshot.meta.node_fields;
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const byType = new Map<string, { n: number; bytes: number }>();
  const byCtor = new Map<string, { n: number; bytes: number }>();
  const strPrefix = new Map<string, { n: number; bytes: number }>();
  let total = 0;
  const add = (m: Map<string, { n: number; bytes: number }>, k: string, b: number) => {
    const e = m.get(k) ?? { n: 0, bytes: 0 };
    e.n++;
    e.bytes += b;
    m.set(k, e);
  };
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    const name = snap.strings[snap.nodes[i + iName]!]!;
    const size = snap.nodes[i + iSize]!;
    total += size;
    add(byType, type, size);
    if (type === 'object' || type === 'closure' || type === 'native' || type === 'array') add(byCtor, `${type}:${name.slice(0, 60)}`, size);
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') {
      // Group strings by a short prefix: shows e.g. kube JSON bodies, keys, hashes.
      const prefix = /^[0-9a-f]{40}$/.test(name) ? '<sha1 hex>' : name.slice(0, 24).replace(/\s+/g, ' ');
      add(strPrefix, prefix, size);
    }
  }
  const mbs = (b: number) => `${(b / 2 ** 20).toFixed(2)} MB`;
  const rows = (m: Map<string, { n: number; bytes: number }>) =>
    [...m]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, top)
      .map(([k, v]) => [k, v.n, mbs(v.bytes)]);
  const count = (re: RegExp) => [...byCtor].filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v.n, 0);
  return [
    `heap snapshot: ${snap.snapshot.node_count} nodes, ${mbs(total)} self size in total`,
    '',
    table([['type', 'count', 'self size'], ...rows(byType)]),
    '',
    table([['constructor', 'count', 'self size'], ...rows(byCtor)]),
    '',
    table([['string prefix', 'count', 'self size'], ...rows(strPrefix)]),
    '',
    `TLSSocket objects: ${count(/^object:TLSSocket$/)}, SecureContext: ${count(/^object:SecureContext$/)}, undici Agent: ${count(/^object:Agent$/)}, Client: ${count(/^object:Client$/)}, Map: ${count(/^object:Map$/)}`,
  ].join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' } } });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node bench/lib/heap-summary.ts FILE.heapsnapshot [--top 30]\n');
    process.exit(2);
  }
  const snap = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Snapshot;
  process.stdout.write(`${summarizeHeap(snap, Number(values.top))}\n`);
}
