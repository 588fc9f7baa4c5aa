/**
 * A small, fast Kubernetes REST client for the benchmarks (not the product's
 * client): one undici Pool of keep-alive TLS connections authenticated with
 * the control plane's admin client certificate, JSON in and out, retries for
 * what the API server asks to be retried (429 with Retry-After, 5xx, transport
 * errors), a paginated LIST, and a WATCH that timestamps every event the
 * moment its bytes arrive.
 *
 * Kept apart from src/ on purpose: a benchmark that measured through the
 * product's own client could not see that client's costs.
 */
import { Client, Pool } from 'undici';

export interface Credentials {
  /** https://127.0.0.1:PORT */
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, method: string, path: string, body: string) {
    super(`${method} ${path}: HTTP ${status} ${body.slice(0, 300)}`);
    this.status = status;
    this.body = body;
  }
}

export type Obj = Record<string, any>;

/** One decoded watch event, with the time (performance.now()) its last byte arrived. */
export interface TimedEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Obj;
  at: number;
}

export interface Watch {
  /** Resolves when the response headers arrived (the watch is registered). */
  opened: Promise<void>;
  /** Resolves when the stream ends (server timeout, close or error). */
  ended: Promise<void>;
  close(): void;
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Kube {
  private readonly pool: Pool;
  private readonly connect: { ca: string; cert: string; key: string; servername?: string };
  readonly origin: string;

  constructor(c: Credentials, connections = 64) {
    this.origin = new URL(c.server).origin;
    this.connect = { ca: c.caPem, cert: c.certPem, key: c.keyPem };
    this.pool = new Pool(this.origin, { connections, pipelining: 1, connect: this.connect, keepAliveTimeout: 60_000 });
  }

  /**
   * One request. 2xx → parsed body. `okStatuses` (e.g. 409 for an idempotent
   * create) → undefined. 429/5xx/transport errors are retried with backoff
   * (Retry-After honoured) up to `attempts`; anything else throws ApiError.
   */
  async request<T = Obj>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    opts: { body?: unknown; contentType?: string; okStatuses?: number[]; attempts?: number } = {},
  ): Promise<T | undefined> {
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const attempts = opts.attempts ?? 10;
    let backoff = 100;
    for (let attempt = 1; ; attempt++) {
      let status = 0;
      let text = '';
      let retryAfter: string | undefined;
      try {
        const res = await this.pool.request({ method, path, headers, ...(payload !== undefined ? { body: payload } : {}) });
        status = res.statusCode;
        const ra = res.headers['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
        text = await res.body.text();
      } catch (e) {
        text = (e as Error).message;
      }
      if (status >= 200 && status < 300) return (text ? JSON.parse(text) : {}) as T;
      if (opts.okStatuses?.includes(status)) return undefined;
      if ((status === 0 || RETRYABLE.has(status)) && attempt < attempts) {
        const wait = retryAfter && Number(retryAfter) > 0 ? Number(retryAfter) * 1000 : backoff;
        await sleep(wait * (0.8 + Math.random() * 0.4));
        backoff = Math.min(backoff * 2, 5_000);
        continue;
      }
      throw new ApiError(status, method, path, text);
    }
  }

  /** GET that must succeed. */
  async get<T = Obj>(path: string): Promise<T> {
    return (await this.request<T>('GET', path))!;
  }

  /** Every item of a paginated LIST (`limit` per page). */
  async *list(path: string, query: Record<string, string> = {}, limit = 500): AsyncGenerator<Obj> {
    let cont = '';
    do {
      const q = new URLSearchParams({ ...query, limit: String(limit), ...(cont ? { continue: cont } : {}) });
      const page = await this.get<{ items: Obj[]; metadata: { continue?: string } }>(`${path}?${q}`);
      yield* page.items;
      cont = page.metadata.continue ?? '';
    } while (cont);
  }

  /**
   * WATCH `path` from `resourceVersion` on its own connection (never queued
   * behind bulk requests). `onEvent` gets each event with the
   * performance.now() of the chunk that completed it.
   */
  watch(path: string, query: Record<string, string>, onEvent: (e: TimedEvent) => void): Watch {
    const client = new Client(this.origin, { connect: this.connect, bodyTimeout: 0, headersTimeout: 30_000 });
    const ac = new AbortController();
    let opened!: () => void;
    let failOpen!: (e: Error) => void;
    const openedP = new Promise<void>((res, rej) => {
      opened = res;
      failOpen = rej;
    });
    const q = new URLSearchParams({ ...query, watch: 'true', allowWatchBookmarks: 'true' });
    const ended = (async () => {
      try {
        const res = await client.request({ method: 'GET', path: `${path}?${q}`, headers: { accept: 'application/json' }, signal: ac.signal });
        if (res.statusCode !== 200) {
          const text = await res.body.text();
          throw new ApiError(res.statusCode, 'WATCH', path, text);
        }
        opened();
        let buf = '';
        res.body.setEncoding('utf8');
        for await (const chunk of res.body as AsyncIterable<string>) {
          const at = performance.now();
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line) {
              const e = JSON.parse(line) as { type: TimedEvent['type']; object: Obj };
              onEvent({ type: e.type, object: e.object, at });
            }
          }
        }
      } catch (e) {
        if (!ac.signal.aborted) {
          failOpen(e as Error);
          throw e;
        }
      } finally {
        opened();
        await client.close().catch(() => {});
      }
    })();
    ended.catch(() => {});
    return { opened: openedP, ended, close: () => ac.abort() };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * Follow one object: LIST it (fieldSelector on its name), WATCH from the
 * list's resourceVersion, and whenever the watch ends or sends an ERROR (e.g. "too
 * large resource version" while the API server's watch cache lags under
 * load), say so on stderr, list it again and re-watch. `onObject` gets every
 * version with its arrival time; `relisted` marks versions that came from a
 * LIST (their time is when the LIST returned, not when the change happened).
 */
export function followObject(kube: Kube, collection: string, name: string, onObject: (obj: Obj, at: number, relisted: boolean) => void): { ready: Promise<void>; close(): void } {
  let closed = false;
  let current: Watch | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  void (async () => {
    while (!closed) {
      let rv: string;
      try {
        // A LIST, not a GET: its resourceVersion is the collection's current
        // one. The object's own may be older than the API server's watch
        // history (10k other Deployments changed since), which gets 410 Gone.
        const list = await kube.get<{ items: Obj[]; metadata: { resourceVersion: string } }>(`${collection}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`);
        rv = list.metadata.resourceVersion;
        for (const obj of list.items) onObject(obj, performance.now(), true);
      } catch (e) {
        process.stderr.write(`follow ${name}: LIST failed (${(e as Error).message}); retrying\n`);
        await sleep(500);
        continue;
      }
      let failed: string | undefined;
      const w = kube.watch(collection, { fieldSelector: `metadata.name=${name}`, resourceVersion: rv }, (e) => {
        if (e.type === 'ERROR') {
          failed = `ERROR event: ${JSON.stringify(e.object).slice(0, 300)}`;
          w.close();
          return;
        }
        rv = e.object.metadata?.resourceVersion ?? rv;
        if (e.type === 'ADDED' || e.type === 'MODIFIED') onObject(e.object, e.at, false);
      });
      current = w;
      try {
        await w.opened;
        markReady();
        await w.ended;
        failed ??= 'stream ended';
      } catch (e) {
        failed = (e as Error).message;
      }
      if (!closed) process.stderr.write(`follow ${name}: watch lost (${failed}); re-getting and re-watching\n`);
    }
  })();
  return {
    ready,
    close: () => {
      closed = true;
      current?.close();
    },
  };
}

/** encodeURIComponent for path segments. */
export const seg = encodeURIComponent;
