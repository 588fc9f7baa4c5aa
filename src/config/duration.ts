/**
 * Go-style duration parsing (`time.ParseDuration` syntax): `500ms`, `2s`,
 * `5m`, `1h30m`, `1.5s`, `0`. Written from the Go documentation; the result is
 * in milliseconds (sub-millisecond inputs give a fractional value).
 */

/** Nanoseconds per unit, as Go's `time` package defines them. */
const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Largest value Go's time.Duration (int64 nanoseconds) can hold. */
const MAX_INT64 = (1n << 63n) - 1n;

/** Largest delay a Node.js timer accepts (2^31 − 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const NOT_A_DURATION = 'not a duration (use Go syntax such as 500ms, 2s, 5m or 1h30m)';

/** Why a duration string was rejected (the message is the reason only). */
export class DurationSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationSyntaxError';
  }
}

/**
 * Parse a Go duration string into milliseconds.
 *
 * Accepts an optional sign, then one or more `<number><unit>` groups where the
 * number may have a fraction (`1.5s`, `.5s`, `1.s`) and the unit is one of
 * `ns us µs ms s m h`. The lone string `0` (or `+0`, `-0`) needs no unit. The
 * value may be negative (`-1s`): callers decide whether that is allowed.
 *
 * @throws DurationSyntaxError for malformed input or int64 overflow.
 */
export function parseGoDuration(input: string): number {
  let s = input;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new DurationSyntaxError(NOT_A_DURATION);

  let totalNs = 0n;
  while (s !== '') {
    let i = 0;
    while (isDigit(s[i])) i++;
    const intDigits = s.slice(0, i);
    let fracDigits = '';
    if (s[i] === '.') {
      const start = ++i;
      while (isDigit(s[i])) i++;
      fracDigits = s.slice(start, i);
    }
    if (intDigits === '' && fracDigits === '') throw new DurationSyntaxError(NOT_A_DURATION);
    s = s.slice(i);

    let u = 0;
    while (u < s.length && !isDigit(s[u]) && s[u] !== '.') u++;
    if (u === 0) throw new DurationSyntaxError('missing unit (ns, us, ms, s, m or h), e.g. "10s"');
    const unitName = s.slice(0, u);
    const unit = UNIT_NS[unitName];
    if (unit === undefined) {
      throw new DurationSyntaxError(`unknown unit ${JSON.stringify(unitName)} (use ns, us, ms, s, m or h)`);
    }
    s = s.slice(u);

    let ns = BigInt(intDigits === '' ? '0' : intDigits) * unit;
    if (fracDigits !== '') {
      // Truncate like Go: fraction × unit / 10^digits, in integer arithmetic.
      ns += (BigInt(fracDigits) * unit) / 10n ** BigInt(fracDigits.length);
    }
    totalNs += ns;
    if (totalNs > MAX_INT64) {
      throw new DurationSyntaxError('duration out of range');
    }
  }
  const ms = Number(totalNs) / 1e6;
  return negative ? -ms : ms;
}

/**
 * Format milliseconds the way Go prints a time.Duration for whole
 * milliseconds and above (`1h30m0s`, `2s`, `500ms`, `0s`). Used for messages.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = rest / 1000;
  if (h > 0) return `${sign}${h}h${m}m${sec}s`;
  if (m > 0) return `${sign}${m}m${sec}s`;
  return `${sign}${sec}s`;
}
