/**
 * How the image runs config-reloader — the node flags of the Dockerfile's
 * ENTRYPOINT, and NODE_OPTIONS and the glibc malloc tunables of its ENV — so
 * that a benchmark measures what production runs. The Dockerfile is the one
 * place these live.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dockerfile = resolve(dirname(fileURLToPath(import.meta.url)), '../../Dockerfile');

/** The image's node flags (between `node` and the script, then NODE_OPTIONS') and `MALLOC_*` variables. */
export function imageRuntime(): { nodeFlags: string[]; env: Record<string, string> } {
  const text = readFileSync(dockerfile, 'utf8');
  const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text);
  if (!entry) throw new Error(`${dockerfile}: no ENTRYPOINT in exec form`);
  const argv = JSON.parse(entry[1]!) as string[];
  const script = argv.findIndex((a) => a.endsWith('.js'));
  if (argv[0] !== 'node' || script < 0) throw new Error(`${dockerfile}: ENTRYPOINT is not node FLAGS… SCRIPT.js`);
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*(?:ENV\s+)?(MALLOC_[A-Z_]+)=(\S+?)\s*\\?$/gm)) env[m[1]!] = m[2]!;
  const nodeOptions = /^\s*(?:ENV\s+)?NODE_OPTIONS="([^"]*)"/m.exec(text)?.[1] ?? '';
  return { nodeFlags: [...argv.slice(1, script), ...nodeOptions.split(' ').filter(Boolean)], env };
}
