/**
 * Subject alternative names: parsing Node's textual SAN form and comparing IP
 * addresses (the same address has many spellings: `::1`, `0:0:0:0:0:0:0:1`).
 */
import { isIP } from 'node:net';

/** Canonical text of an IP address (IPv6 compressed, lowercase); other input unchanged. */
export function normalizeIp(ip: string): string {
  const family = isIP(ip);
  if (family === 4) return new URL(`http://${ip}/`).hostname;
  if (family === 6) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return ip;
}

export interface SubjectAltNames {
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * Parse `X509Certificate#subjectAltName` (`DNS:a, IP Address:1.2.3.4, ...`).
 * Node writes a value that contains a separator or quote as a JSON string
 * (`DNS:"a\u002cb"`), so quoted values are decoded with JSON.parse.
 */
export function parseSubjectAltName(text: string | undefined): SubjectAltNames {
  const out: SubjectAltNames = { dnsNames: [], ipAddresses: [] };
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      next = text.indexOf(', ', end);
    } else {
      next = text.indexOf(', ', colon);
      value = text.slice(colon + 1, next < 0 ? undefined : next);
    }
    if (type === 'DNS') out.dnsNames.push(value);
    else if (type === 'IP Address') out.ipAddresses.push(normalizeIp(value));
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}
