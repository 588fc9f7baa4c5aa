/**
 * Summarise a V8 .cpuprofile (from `node --cpu-prof`, e.g. config-reloader
 * run by `bench/reaction.ts --cpu-prof DIR`): where the CPU went, by self time
 * per function and per module (package, node internal, or src/ file), plus
 * the inclusive time of functions whose name or file matches --focus.
 *
 *   node bench/lib/profile-summary.ts FILE.cpuprofile [--top 25] [--focus REGEX]...
 *                                     [--from SECONDS] [--until SECONDS]
 *
 * --from/--until keep the samples of that window (seconds since the profile
 * started, which is about when the process started), e.g. --until 8 for the
 * start-up of a process that was ready after 8 s.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { table } from './stats.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Which module a frame belongs to: `pkg:<name>`, `node:<area>`, `src/<file>`, or a V8 pseudo-frame. */
export function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return `pkg:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

/** Keep only the samples taken between `fromS` and `untilS` seconds after the profile started. */
export function window(p: Profile, fromS: number, untilS: number): Profile {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let t = 0;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    if (t >= fromS * 1e6 && t <= untilS * 1e6) {
      samples.push(id);
      timeDeltas.push(p.timeDeltas[i] ?? 0);
    }
  });
  return { ...p, samples, timeDeltas, startTime: p.startTime + fromS * 1e6, endTime: Math.min(p.endTime, p.startTime + untilS * 1e6) };
}

export function summarizeProfile(p: Profile, top: number, focus: RegExp[]): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    self.set(id, (self.get(id) ?? 0) + dt);
  });
  const label = (n: ProfileNode) => {
    const f = n.callFrame;
    return `${f.functionName || '(anonymous)'} ${moduleOf(f.url, f.functionName)}:${f.lineNumber + 1}`;
  };
  const fnSelf = new Map<string, number>();
  const modSelf = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + t);
    const m = moduleOf(n.callFrame.url, n.callFrame.functionName);
    modSelf.set(m, (modSelf.get(m) ?? 0) + t);
  }
  const busy = total - (modSelf.get('(idle)') ?? 0);
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1)}%`;
  const rows = (m: Map<string, number>) =>
    [...m]
      .filter(([k]) => k !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => [k, `${t.toFixed(0)} ms`, pct(t)]);
  const out = [
    `profile: ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s wall, ${busy.toFixed(0)} ms busy (not idle)`,
    '',
    'self time by module:',
    table([['module', 'self', 'of busy'], ...rows(modSelf)]),
    '',
    'self time by function:',
    table([['function', 'self', 'of busy'], ...rows(fnSelf)]),
  ];
  if (focus.length > 0) {
    // Inclusive time: each sample counts once for every distinct matching frame on its stack.
    const incl = new Map<string, number>();
    p.samples.forEach((id, i) => {
      const dt = (p.timeDeltas[i] ?? 0) / 1000;
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const n = byId.get(cur)!;
        const l = label(n);
        if (!seen.has(l) && focus.some((re) => re.test(l))) {
          seen.add(l);
          incl.set(l, (incl.get(l) ?? 0) + dt);
        }
      }
    });
    out.push('', 'inclusive time of --focus functions:', table([['function', 'inclusive', 'of busy'], ...rows(incl)]));
  }
  return out.join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      focus: { type: 'string', multiple: true, default: [] },
      from: { type: 'string', default: '0' },
      until: { type: 'string', default: 'Infinity' },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node bench/lib/profile-summary.ts FILE.cpuprofile [--top 25] [--focus REGEX]... [--from S] [--until S]\n');
    process.exit(2);
  }
  const p = window(JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile, Number(values.from), Number(values.until));
  process.stdout.write(`${summarizeProfile(p, Number(values.top), (values.focus ?? []).map((f) => new RegExp(f)))}\n`);
}
