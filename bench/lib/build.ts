/**
 * Compile src/ with the project's own tsc (tsconfig.build.json, the same
 * build `npm run build` makes for the image and the bin) into a temp folder,
 * so that a benchmark can run what production runs (plain JavaScript, no type
 * stripping) without writing to the shared checkout's dist/. The folder gets
 * the repo's package.json (ESM) and a symlink to its node_modules; it is
 * removed at cleanup.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cluster.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Build and return the path of the compiled main.js. */
export function buildDist(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cr-bench-dist-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(dir, 'dist'), '--sourceMap', 'false'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const main = join(dir, 'dist/src/main.js');
  // Others may be mid-edit in the shared checkout: tsc still emits on type
  // errors, and emitted JavaScript is all a benchmark needs.
  if (r.status !== 0 && !existsSync(main)) throw new Error(`tsc failed (${r.status ?? r.signal})`);
  if (r.status !== 0) process.stderr.write('warning: tsc reported errors; running what it emitted\n');
  copyFileSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  return main;
}
