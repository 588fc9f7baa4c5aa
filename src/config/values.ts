/**
 * Value syntaxes shared by the flag parser: Go booleans, comma lists,
 * Kubernetes names, label selectors, IP addresses and DNS names. Every
 * function returns a value or throws a plain `Error` whose message says what
 * is wrong; the caller wraps it in a ConfigError naming the flag.
 */
import { isIP } from 'node:net';

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** True when `s` is one of the literals Go's `strconv.ParseBool` accepts. */
export function isGoBool(s: string): boolean {
  return TRUE_WORDS.has(s) || FALSE_WORDS.has(s);
}

/**
 * Parse a boolean exactly as Go's `strconv.ParseBool` does:
 * `1 t T TRUE true True` and `0 f F FALSE false False`.
 */
export function parseGoBool(s: string): boolean {
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  throw new Error('must be a boolean (true, false, 1, 0, t, f, TRUE, FALSE, True, False)');
}

/**
 * Split one comma-separated value into items. Like the CSV reading that
 * Reloader's string-slice flags use, a double-quoted section may hold commas
 * and `""` stands for one quote (so the Helm chart's
 * `--namespace-selector="a=b"` works). Items are trimmed; empty ones dropped.
 */
export function splitList(raw: string): string[] {
  const items: string[] = [];
  let current = '';
  let quoted = false;
  const push = (): void => {
    const item = current.trim();
    if (item !== '') items.push(item);
    current = '';
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quoted) {
      if (c === '"') {
        if (raw[i + 1] === '"') {
          current += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        current += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      push();
    } else {
      current += c;
    }
  }
  push();
  return items;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** True for a DNS-1123 label (a namespace or Service name): `[a-z0-9-]`, ≤ 63. */
export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** True for a DNS-1123 subdomain (a Secret or webhook configuration name), ≤ 253. */
export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && s.split('.').every((part) => DNS1123_LABEL.test(part));
}

/** Throw unless `s` is a valid namespace name. */
export function checkNamespace(s: string): string {
  if (!isDnsLabel(s)) {
    throw new Error('must be a namespace name (lowercase letters, digits and "-", at most 63 characters)');
  }
  return s;
}

/** Throw unless `s` is a valid object name (DNS-1123 subdomain). */
export function checkObjectName(s: string): string {
  if (!isDnsSubdomain(s)) {
    throw new Error('must be a Kubernetes object name (lowercase letters, digits, "-" and ".", at most 253 characters)');
  }
  return s;
}

/** Throw unless `s` is a valid Service name (DNS-1035/1123 label). */
export function checkServiceName(s: string): string {
  if (!isDnsLabel(s)) {
    throw new Error('must be a Service name (lowercase letters, digits and "-", at most 63 characters)');
  }
  return s;
}

/**
 * True for a Kubernetes qualified name: an optional DNS-subdomain prefix and
 * `/`, then a name of at most 63 characters `[A-Za-z0-9][-A-Za-z0-9_.]*`.
 * Annotation and label keys use this syntax.
 */
export function isQualifiedName(s: string): boolean {
  const slash = s.indexOf('/');
  let name = s;
  if (slash >= 0) {
    const prefix = s.slice(0, slash);
    name = s.slice(slash + 1);
    if (prefix === '' || !isDnsSubdomain(prefix)) return false;
  }
  return name.length <= 63 && QUALIFIED_NAME_PART.test(name);
}

/** Throw unless `s` is a valid annotation key. */
export function checkAnnotationKey(s: string): string {
  if (!isQualifiedName(s)) {
    throw new Error('must be an annotation key such as "example.com/name" (prefix a DNS subdomain, name at most 63 characters)');
  }
  return s;
}

/** True for a label value: empty, or at most 63 `[A-Za-z0-9][-A-Za-z0-9_.]*` characters. */
export function isLabelValue(s: string): boolean {
  return s === '' || (s.length <= 63 && QUALIFIED_NAME_PART.test(s));
}

/** True for a DNS name usable in a certificate SAN (a leading `*.` wildcard allowed). */
export function isDnsName(s: string): boolean {
  const name = s.startsWith('*.') ? s.slice(2) : s;
  if (name.length === 0 || name.length > 253) return false;
  // An all-numeric last label is a mistyped IP address, not a host name (RFC 3696 §2).
  if (/(^|\.)\d+$/.test(name)) return false;
  return name
    .toLowerCase()
    .split('.')
    .every((part) => part.length <= 63 && DNS1123_LABEL.test(part));
}

/** True for an IPv4 or IPv6 address literal (no brackets, no zone). */
export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0;
}

/** A capture group that always participates in a match (so is never undefined). */
function group(m: RegExpExecArray, n: number): string {
  return m[n] as string;
}

/**
 * Split a label selector into its requirements at the commas that are not
 * inside the parentheses of `in (…)` / `notin (…)`.
 */
function splitRequirements(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of selector) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current.trim());
  return out.filter((r) => r !== '');
}

/**
 * Rewrite Reloader's legacy selector spellings into Kubernetes syntax, as
 * Reloader does: `key:value` → `key=value`, `key:*` and `key=*` → `key`
 * (the label exists, any value).
 */
function normalizeRequirement(req: string): string {
  const wildcard = /^([^:=!\s]+)\s*[:=]\s*\*$/.exec(req);
  if (wildcard !== null) return group(wildcard, 1);
  const legacy = /^([^:=!\s()]+)\s*:\s*(.*)$/.exec(req);
  if (legacy !== null) return `${group(legacy, 1)}=${group(legacy, 2)}`;
  return req;
}

function checkRequirement(req: string): void {
  const bad = (why: string): never => {
    throw new Error(`invalid label selector requirement ${JSON.stringify(req)}: ${why}`);
  };
  const checkKey = (key: string): void => {
    if (!isQualifiedName(key)) bad(`${JSON.stringify(key)} is not a valid label key`);
  };
  const checkValue = (value: string): void => {
    if (!isLabelValue(value)) bad(`${JSON.stringify(value)} is not a valid label value`);
  };

  let m = /^!\s*(\S+)$/.exec(req);
  if (m !== null) return checkKey(group(m, 1));
  m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(req);
  if (m !== null) {
    checkKey(group(m, 1));
    const values = group(m, 3).split(',').map((v) => v.trim());
    if (values.length === 1 && values[0] === '') bad('the value set of in/notin must not be empty');
    values.forEach(checkValue);
    return;
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(req);
  if (m !== null) {
    checkKey(group(m, 1));
    checkValue(group(m, 3));
    return;
  }
  m = /^([^=!<>\s]+)\s*(<|>)\s*(\S*)$/.exec(req);
  if (m !== null) {
    checkKey(group(m, 1));
    if (!/^-?\d+$/.test(group(m, 3))) bad('the operators < and > need an integer value');
    return;
  }
  checkKey(req);
}

/**
 * Turn the items of a `--namespace-selector` / `--resource-label-selector`
 * flag into one Kubernetes label selector string (requirements joined with
 * `,`), accepting Reloader's legacy `key:value` and `key:*` forms, and check
 * its syntax (`k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`,
 * `k>1`, `k<1`). Returns `""` for no items (select everything).
 */
export function buildLabelSelector(items: readonly string[]): string {
  const requirements = splitRequirements(items.join(',')).map(normalizeRequirement);
  requirements.forEach(checkRequirement);
  return requirements.join(',');
}
