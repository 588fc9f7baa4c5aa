/**
 * Preloaded into config-reloader by `bench/memory.ts --breakdown` (as
 * `node --import <this file> main.js`): every 250 ms, one JSON line on stdout
 * with process.memoryUsage() and V8's heap spaces, so the benchmark can say
 * how much of the RSS is V8 heap (used vs. committed), external memory
 * (Buffers) or neither (code, native libraries, malloc arenas, TLS). Changes
 * nothing else in the process; the timer is unref'd. Plain JavaScript: a .ts
 * file would load Node's type stripper (~20 MB) into the measured process.
 */
import { getHeapSpaceStatistics } from 'node:v8';

const t0 = performance.now();
const timer = setInterval(() => {
  const m = process.memoryUsage();
  const spaces = {};
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = s.space_used_size;
  process.stdout.write(
    `${JSON.stringify({ msg: 'bench-memory-usage', t: Math.round(performance.now() - t0), rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, spaces })}\n`,
  );
}, 250);
timer.unref();
