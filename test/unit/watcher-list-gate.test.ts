import t from 'tap';
import { ListGate } from '../../src/watcher/list-gate.ts';

/** A fetch that resolves (or rejects) when the test says so, recording when it started. */
function controllable(log: string[], name: string) {
  let settle!: (ok: boolean) => void;
  const fetch = () => {
    log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => {
      settle = (ok) => (ok ? resolve(name) : reject(new Error(`${name} failed`)));
    });
  };
  return { fetch, settle: (ok: boolean) => settle(ok) };
}

const tick = () => new Promise((r) => setImmediate(r));

t.test('one fetch in flight at a time, in arrival order; a failure frees the gate', async (t) => {
  const gate = new ListGate();
  const log: string[] = [];
  const a = controllable(log, 'a');
  const b = controllable(log, 'b');
  const c = controllable(log, 'c');
  const pa = gate.run(a.fetch);
  const pb = gate.run(b.fetch);
  const pc = gate.run(c.fetch);
  await tick();
  t.same(log, ['start a'], 'b and c wait while a is in flight');
  a.settle(false);
  await t.rejects(pa, /a failed/);
  await tick();
  t.same(log, ['start a', 'start b'], 'a failing lets b start');
  b.settle(true);
  t.equal(await pb, 'b');
  await tick();
  t.same(log, ['start a', 'start b', 'start c']);
  c.settle(true);
  t.equal(await pc, 'c');
});
