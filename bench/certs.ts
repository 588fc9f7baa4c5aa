/**
 * How long does issuing certificates block the event loop? (prints numbers;
 * not a test)
 *
 *   node bench/certs.ts [--rounds 5]
 *
 * Issues a CA and a serving certificate per round while a 1 ms-resolution
 * event-loop delay monitor runs, and, for comparison, times node-forge's own
 * RSA-2048 key generation (what `createCA` deliberately avoids).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import forge from 'node-forge';
import { createCA, createServingCert } from '../src/certs/issue.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
if (!(rounds >= 1)) throw new Error('--rounds must be >= 1');

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const wall: number[] = [];
for (let i = 0; i < rounds; i++) {
  const start = performance.now();
  const ca = await createCA({ commonName: 'bench-ca', validityDays: 3650 });
  await createServingCert({ ca, dnsNames: ['config-reloader.config-reloader.svc'], ipAddresses: ['127.0.0.1'], validityDays: 365 });
  wall.push(performance.now() - start);
}
loop.disable();
const ms = (ns: number) => (ns / 1e6).toFixed(1);
console.log(`createCA + createServingCert, ${rounds} rounds: wall ${wall.map((w) => w.toFixed(0)).join(', ')} ms`);
console.log(`event-loop delay while issuing: p50 ${ms(loop.percentile(50))} ms, p99 ${ms(loop.percentile(99))} ms, max ${ms(loop.max)} ms`);

// forge's generateKeyPair uses Node's *synchronous* generateKeyPairSync when it
// can (the loop is blocked for the whole prime search), and pure JS otherwise.
const time = (fn: () => void) => {
  const start = performance.now();
  fn();
  return (performance.now() - start).toFixed(0);
};
const sync = time(() => forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }));
(forge as unknown as { options: { usePureJavaScript: boolean } }).options.usePureJavaScript = true;
const pure = time(() => forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }));
console.log(`for comparison, node-forge RSA-2048 generation blocks the loop: ${sync} ms (native sync), ${pure} ms (pure JS)`);
