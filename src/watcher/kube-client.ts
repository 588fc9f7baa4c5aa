/**
 * A thin client over the Kubernetes REST API on node:https: one keep-alive
 * connection pool per client, JSON in and out, LIST pages and watch lines as
 * raw JSON that callers reduce to a few fields at once.
 *
 * Why not @kubernetes/client-node's typed API or fetch: importing client-node
 * costs ~50 MB of RSS and the npm undici ~25 MB (bench/README.md), and
 * client-node builds a new TLS connection for every call. node:https is in
 * the binary, and its HTTP parser is native.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Credentials } from './kubeconfig.ts';

/** An API error that says whether retrying can help (kube-rs style). */
export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly retryable: boolean;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
    this.reason = reason;
    // 409 Conflict, 429 Too Many Requests, 5xx and transport errors (0) are
    // worth retrying; 4xx (forbidden, invalid, not found) are not.
    this.retryable = status === 0 || status === 409 || status === 429 || status >= 500;
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

/** One event of a watch stream. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

/** A page of a LIST. */
export interface ListPage {
  items: Record<string, unknown>[];
  resourceVersion: string;
  continue?: string;
}

function url(server: string, path: string, query?: Query): URL {
  const u = new URL(server + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
  return u;
}

/**
 * A request with no byte for this long is dropped as a transport error (and
 * retried by the caller): a LIST page of 100 objects takes milliseconds, a
 * stuck connection must not hold a reflector forever. Watches are exempt:
 * their silence is the reflector's watchdog's business.
 */
const REQUEST_IDLE_TIMEOUT_MS = 60_000;

/** Kubernetes REST client used by the watcher, leader election and certs. */
export class KubeClient {
  readonly server: string;
  private readonly creds: Credentials;
  private readonly agent: http.Agent;
  private readonly transport: typeof https | typeof http;

  constructor(creds: Credentials) {
    this.creds = creds;
    this.server = creds.server;
    const secure = creds.server.startsWith('https:');
    this.transport = secure ? https : http;
    // One pool for every request and watch: each watch holds a socket, the
    // rest reuse idle ones (a TLS handshake with a client certificate costs
    // ~3 ms of CPU; measured 4.3 vs 1.0 ms per GET before the pool).
    const pool = { keepAlive: true, maxFreeSockets: 8, scheduling: 'lifo' as const };
    this.agent = secure ? new https.Agent({ ...pool, ...creds.tls }) : new http.Agent(pool);
  }

  /** Close idle connections (open watches end with their own abort). */
  close(): void {
    this.agent.destroy();
  }

  /** Send one request; resolves with the response once its headers arrived. */
  private async send(
    method: string,
    u: URL,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
    idleTimeout: boolean,
  ): Promise<http.IncomingMessage> {
    const auth = await this.creds.authHeaders();
    return new Promise((resolve, reject) => {
      const req = this.transport.request(u, {
        method,
        agent: this.agent,
        headers: { 'user-agent': 'config-reloader', accept: 'application/json', ...auth, ...headers },
        ...(signal ? { signal } : {}),
      });
      if (idleTimeout) req.setTimeout(REQUEST_IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no response in ${REQUEST_IDLE_TIMEOUT_MS / 1000} s`)));
      req.once('response', resolve);
      req.once('error', reject);
      req.end(body);
    });
  }

  /**
   * One request; JSON in and out. Throws KubeError for a non-2xx status
   * (message from the API's Status object) or a transport error (status 0).
   */
  async request<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    opts: { query?: Query; body?: unknown; contentType?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const u = url(this.server, path, opts.query);
    const headers: Record<string, string> = {};
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    let status: number;
    let text: string;
    try {
      const res = await this.send(method, u, headers, body, opts.signal, true);
      status = res.statusCode ?? 0;
      text = await readText(res);
    } catch (e) {
      throw new KubeError(0, 'Transport', `${method} ${path}: ${(e as Error).message}`);
    }
    if (status < 200 || status >= 300) throw statusError(`${method} ${path}`, status, text);
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** One page of a LIST (`limit`/`continue` pagination). */
  async listPage(path: string, query: Query): Promise<ListPage> {
    const r = await this.request<{ items?: Record<string, unknown>[]; metadata?: { resourceVersion?: string; continue?: string } }>('GET', path, { query });
    return {
      items: r.items ?? [],
      resourceVersion: r.metadata?.resourceVersion ?? '',
      ...(r.metadata?.continue ? { continue: r.metadata.continue } : {}),
    };
  }

  /**
   * Open a watch and feed each event to `onEvent` until the stream ends,
   * `signal` aborts, or an error. Resolves when the stream ends cleanly or is
   * aborted; rejects with KubeError otherwise (410 Gone arrives as an ERROR
   * event, which the caller handles).
   */
  async watch(path: string, query: Query, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const u = url(this.server, path, { ...query, watch: 'true' });
    let res: http.IncomingMessage;
    try {
      res = await this.send('GET', u, {}, undefined, signal, false);
    } catch (e) {
      if (signal.aborted) return;
      throw new KubeError(0, 'Transport', `watch ${path}: ${(e as Error).message}`);
    }
    if (res.statusCode !== 200) {
      throw statusError(`watch ${path}`, res.statusCode ?? 0, await readText(res).catch(() => ''));
    }
    try {
      await readLines(res, (line) => onEvent(JSON.parse(line) as WatchEvent));
    } catch (e) {
      if (signal.aborted) return;
      throw new KubeError(0, 'Transport', `watch ${path}: ${(e as Error).message}`);
    }
  }
}

/** The KubeError of a non-2xx answer: reason and message from its Status object, else the raw text. */
function statusError(what: string, status: number, text: string): KubeError {
  let reason = String(status);
  let message = text.slice(0, 500);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? reason;
    message = s.message ?? message;
  } catch {
    // not a Status object; keep the raw text
  }
  return new KubeError(status, reason, `${what}: ${status} ${message}`);
}

/**
 * The whole body as text, decoded chunk by chunk: no Buffer the size of the
 * body is ever built (a LIST page of Secrets can be megabytes, and Buffer
 * memory sits outside the V8 heap until a GC notices it).
 */
function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8'); // a multi-byte character may straddle two chunks
    res.on('data', (c: string) => (text += c));
    res.once('end', () => resolve(text));
    res.once('error', reject);
    res.once('aborted', () => reject(new Error('response aborted')));
  });
}

/**
 * Feed each non-empty line of a streaming body to `onLine`; resolves at the
 * end of the stream, rejects on a stream error or when `onLine` throws.
 */
export function readLines(res: NodeJS.ReadableStream & { destroy(e?: Error): void }, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let rest = '';
    let failed = false;
    let ended = false;
    const fail = (e: Error) => {
      if (failed || ended) return;
      failed = true;
      res.destroy(e);
      reject(e);
    };
    /** Hand one line on; false once `onLine` threw (the stream is then failed). */
    const emit = (line: string): boolean => {
      if (!line.trim()) return true;
      try {
        onLine(line);
        return true;
      } catch (e) {
        fail(e as Error);
        return false;
      }
    };
    res.setEncoding('utf8'); // a multi-byte character may straddle two chunks
    res.on('data', (chunk: string) => {
      if (failed) return;
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
        const line = rest + chunk.slice(start, nl);
        rest = '';
        start = nl + 1;
        if (!emit(line)) return;
      }
      rest += chunk.slice(start);
    });
    res.once('end', () => {
      if (failed || !emit(rest)) return;
      ended = true;
      resolve();
    });
    res.once('error', (e) => fail(e));
    // A connection cut mid-stream closes without 'end' (and, for a response, without an error).
    res.once('close', () => fail(new Error('stream closed before its end')));
  });
}
