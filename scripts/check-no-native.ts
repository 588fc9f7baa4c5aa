/**
 * Fails (exit 1) when any production dependency is a native addon: the image
 * must build for every CPU that has a Node.js image (x86, arm64, sw64…) with
 * no compiler for that CPU. A package counts as native when it ships a
 * binding.gyp, declares `gypfile`, has a compiled `.node` file, or runs an
 * install script (node-gyp, prebuild-install and friends run there).
 *
 * Usage: node scripts/check-no-native.ts   (from the project root)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Reasons a package directory looks native; empty when it is pure JS. */
export function nativeReasons(dir: string): string[] {
  const reasons: string[] = [];
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    gypfile?: boolean;
    scripts?: Record<string, string>;
  };
  if (pkg.gypfile) reasons.push('package.json has gypfile: true');
  if (existsSync(join(dir, 'binding.gyp'))) reasons.push('ships binding.gyp');
  for (const s of ['preinstall', 'install', 'postinstall']) {
    if (pkg.scripts?.[s]) reasons.push(`has an ${s} script: ${pkg.scripts[s]}`);
  }
  const walk = (d: string, depth: number): void => {
    if (depth > 6) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules') continue; // nested packages are listed by npm ls themselves
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.name.endsWith('.node') && statSync(p).size > 0) reasons.push(`compiled addon ${p}`);
    }
  };
  walk(dir, 0);
  return reasons;
}

function main(): void {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { encoding: 'utf8' });
  const dirs = [...new Set(out.split('\n').filter((l) => l.includes('node_modules')))];
  let bad = 0;
  for (const dir of dirs) {
    for (const r of nativeReasons(dir)) {
      console.error(`native dependency: ${dir}: ${r}`);
      bad++;
    }
  }
  if (bad > 0) {
    console.error(`check-no-native: ${bad} problem(s) in ${dirs.length} production packages`);
    process.exit(1);
  }
  console.log(`check-no-native: ${dirs.length} production packages, none native`);
}

main();
