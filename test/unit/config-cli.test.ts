import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { USAGE_EXIT_CODE, loadConfigOrExit, processOutput, type CliOutput } from '../../src/config/cli.ts';
import { FLAGS, helpText } from '../../src/config/index.ts';

class Exit extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

/** A CliOutput that records what was written and turns exit into a thrown Exit. */
function recorder(): CliOutput & { out: string; err: string } {
  const rec = {
    out: '',
    err: '',
    stdout(text: string): void {
      rec.out += text;
    },
    stderr(text: string): void {
      rec.err += text;
    },
    exit(code: number): never {
      throw new Exit(code);
    },
  };
  return rec;
}

const host = { hostname: (): string => 'h' };

t.test('returns the config when the command line is good', async (t) => {
  const rec = recorder();
  const c = loadConfigOrExit(['--port', '9443'], { POD_NAMESPACE: 'ops' }, rec, host);
  t.equal(c.server.port, 9443);
  t.equal(c.identity.namespace, 'ops');
  t.equal(rec.out + rec.err, '', 'prints nothing');
});

t.test('--help prints the help to stdout and exits 0', async (t) => {
  for (const argv of [['--help'], ['-h'], ['--port=bad', '--help']]) {
    const rec = recorder();
    t.throws(() => loadConfigOrExit(argv, {}, rec, host), new Exit(0), argv.join(' '));
    t.equal(rec.out, helpText());
    t.equal(rec.err, '');
  }
});

t.test('a ConfigError prints one line to stderr and exits 2', async (t) => {
  const cases: [string[], Record<string, string>, string][] = [
    [['--bogus'], {}, 'config-reloader: unknown flag: --bogus (run with --help to list the flags)\n'],
    [['--port=0'], {}, 'config-reloader: invalid value "0" for --port: must be an integer between 1 and 65535\n'],
    [[], { ALERT_ON_RELOAD: 'maybe' }, 'config-reloader: invalid value "maybe" for environment variable ALERT_ON_RELOAD: must be a boolean (true, false, 1, 0, t, f, TRUE, FALSE, True, False)\n'],
  ];
  for (const [argv, env, message] of cases) {
    const rec = recorder();
    t.throws(() => loadConfigOrExit(argv, env, rec, host), new Exit(USAGE_EXIT_CODE), argv.join(' '));
    t.equal(rec.err, message);
    t.equal(rec.out, '');
  }
  t.equal(USAGE_EXIT_CODE, 2);
});

t.test('other errors are not swallowed', async (t) => {
  const rec = recorder();
  const broken = {
    hostname: (): string => {
      throw new TypeError('boom');
    },
  };
  t.throws(() => loadConfigOrExit([], {}, rec, broken), TypeError);
  t.equal(rec.err, '');
});

t.test('processOutput writes to the process streams', async (t) => {
  // Empty writes: harmless for the TAP stream, and they exercise the real functions.
  t.doesNotThrow(() => processOutput.stdout(''));
  t.doesNotThrow(() => processOutput.stderr(''));
  t.type(processOutput.exit, 'function');
});

t.test('real process: exit codes and streams', async (t) => {
  const cli = fileURLToPath(new URL('../../src/config/cli.ts', import.meta.url));
  const script = `import { loadConfigOrExit } from ${JSON.stringify(cli)};
const c = loadConfigOrExit(process.argv.slice(1), process.env);
process.stdout.write(JSON.stringify({ port: c.server.port, warnings: c.warnings }));`;
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
      encoding: 'utf8',
      env: { ...process.env, POD_NAMESPACE: '' },
    });

  let r = run('--port=9000', '--enable-pprof');
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { port: 9000, warnings: ['flag --enable-pprof is accepted but not built yet; no pprof server is started'] });

  r = run('--help');
  t.equal(r.status, 0);
  for (const spec of FLAGS) t.ok(r.stdout.includes(`--${spec.name}`), `help lists --${spec.name}`);
  t.equal(r.stderr, '');

  r = run('--no-such-flag');
  t.equal(r.status, 2);
  t.equal(r.stdout, '');
  t.equal(r.stderr, 'config-reloader: unknown flag: --no-such-flag (run with --help to list the flags)\n');

  r = run('--debounce', 'soon');
  t.equal(r.status, 2);
  t.match(r.stderr, /^config-reloader: invalid value "soon" for --debounce: /);
});
