/**
 * POST a JSON body to an outside URL (alert sinks, `--webhook-url`) with
 * node:http(s). Not fetch: Node's fetch runs its HTTP parser as WebAssembly,
 * which V8's `--lite-mode` (the image's memory setting, see Dockerfile)
 * leaves out, and importing the npm undici costs ~25 MB of RSS.
 */
import * as http from 'node:http';
import * as https from 'node:https';

/**
 * Send `body` as JSON; resolves with the status code once the response has
 * been read, rejects on a transport error or after `timeoutMs`.
 */
export function postJson(url: string, body: unknown, timeoutMs: number): Promise<number> {
  const u = new URL(url);
  const transport = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
  if (!transport) return Promise.reject(new Error(`unsupported URL scheme ${u.protocol}`));
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = transport.request(u, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': data.length, 'user-agent': 'config-reloader' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    req.once('error', reject);
    req.once('response', (res) => {
      res.resume(); // the answer's body is not needed, only read to free the socket
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.end(data);
  });
}
