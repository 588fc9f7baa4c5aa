/**
 * What the machine was doing: load average, CPU count, a process's RSS and
 * CPU time from /proc (Linux only), and a bounded-concurrency runner with
 * progress for bulk loads.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** `load 1.15 2.09 1.88 (2 CPUs, 23.5 GB)` */
export function machineLine(): string {
  const [a, b, c] = loadavg().map((x) => x.toFixed(2));
  return `load average ${a} ${b} ${c} (${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GB RAM, node ${process.version})`;
}

export function load1(): number {
  return loadavg()[0]!;
}

export interface ProcMemory {
  /** Resident set size now, kB. */
  rssKb: number;
  /** Peak resident set size so far (VmHWM), kB. */
  hwmKb: number;
}

/** VmRSS and VmHWM of a live process (undefined once it is gone). */
export function procMemory(pid: number): ProcMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** User + system CPU seconds a process has used so far. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" that ends the command name: state is field 3; utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Run `fn(i)` for i in [0, count) with at most `concurrency` in flight;
 * prints `label: done/count (rate/s)` to stderr every `everyMs`. Rejects on
 * the first error (after the in-flight calls settle).
 */
export async function runBounded(label: string, count: number, concurrency: number, fn: (i: number) => Promise<unknown>, everyMs = 5_000): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let failed: unknown;
  const timer = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(`  ${label}: ${done}/${count} (${(done / s).toFixed(0)}/s)\n`);
  }, everyMs);
  const worker = async () => {
    while (failed === undefined && next < count) {
      const i = next++;
      try {
        await fn(i);
        done++;
      } catch (e) {
        failed ??= e;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    clearInterval(timer);
  }
  if (failed !== undefined) throw failed;
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write(`  ${label}: ${count} in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(0)}/s)\n`);
  return seconds;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Progress line on stderr with the elapsed time since `t0` (ms, performance.now()). */
export function say(t0: number, msg: string): void {
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}

/** Resident memory of a process by kind of mapping, kB (from /proc/<pid>/smaps). */
export interface MappingRss {
  /** Anonymous mappings: V8 heap pages, malloc arenas and large allocations, thread stacks. */
  anonKb: number;
  /** The brk heap ([heap]): the main malloc arena. */
  brkKb: number;
  /** File-backed mappings: the node binary, shared libraries. */
  fileKb: number;
}

export function mappingRss(pid: number): MappingRss | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  const out: MappingRss = { anonKb: 0, brkKb: 0, fileKb: 0 };
  let kind: keyof MappingRss = 'anonKb';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1]!.trim();
      kind = name === '[heap]' ? 'brkKb' : name.startsWith('/') ? 'fileKb' : 'anonKb';
    } else if (line.startsWith('Rss:')) {
      out[kind] += Number(/(\d+)/.exec(line)![1]);
    }
  }
  return out;
}
