/**
 * A thin client over the Kubernetes REST API. @kubernetes/client-node does
 * the credentials (kubeconfig, in-cluster token, exec plugins, client certs)
 * and gives the TLS dispatcher; requests go through undici directly so that
 * LIST pages and watch lines arrive as raw JSON we reduce to a few fields at
 * once (the typed API deserialises every object into class instances first).
 */
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';

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
  const u = new URL(server.replace(/\/$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
  return u;
}

/** Kubernetes REST client used by the watcher, leader election and certs. */
export class KubeClient {
  readonly kc: KubeConfig;
  readonly server: string;
  /**
   * One connection pool for every request and watch. client-node builds a
   * new undici Agent on every applySecurityAuthentication() call; using each
   * would cost a TCP + TLS handshake per API call (measured: 4.3 ms of CPU per
   * GET instead of 1.1 ms, ~1,100 sockets open during a start-up reconcile of
   * 10k workloads, +200 MB of malloc arena). Credentials that change per
   * request (tokens) travel in headers, which are still taken every time; the
   * TLS material of a kubeconfig (CA, client certificate) does not change
   * while we run.
   */
  private dispatcher: ReturnType<RequestContext['getDispatcher']>;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server;
  }

  /** Auth headers for this request, and the shared dispatcher. */
  private async prepare(u: URL, method: HttpMethod): Promise<{ headers: Record<string, string>; dispatcher: ReturnType<RequestContext['getDispatcher']> }> {
    const ctx = new RequestContext(u.toString(), method);
    await this.kc.applySecurityAuthentication(ctx);
    this.dispatcher ??= ctx.getDispatcher();
    // identity: on loopback and inside a cluster, gzip costs more CPU on both
    // ends (13 % of our start-up CPU went to zlib) than the bytes it saves.
    return { headers: { ...ctx.getHeaders(), 'accept-encoding': 'identity' }, dispatcher: this.dispatcher };
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
    const ctx = await this.prepare(u, method as HttpMethod);
    const headers: Record<string, string> = { ...ctx.headers, accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    let res;
    try {
      res = await fetch(u, {
        method,
        headers,
        dispatcher: ctx.dispatcher,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (e) {
      throw new KubeError(0, 'Transport', `${method} ${path}: ${(e as Error).message}`);
    }
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) {
      let reason = String(res.status);
      let message = text.slice(0, 500);
      try {
        const s = JSON.parse(text) as { reason?: string; message?: string };
        reason = s.reason ?? reason;
        message = s.message ?? message;
      } catch {
        // not a Status object; keep the raw text
      }
      throw new KubeError(res.status, reason, `${method} ${path}: ${res.status} ${message}`);
    }
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
   * `signal` aborts, or an error. Resolves when the stream ends cleanly;
   * rejects with KubeError otherwise (410 Gone arrives as an ERROR event,
   * which the caller handles).
   */
  async watch(path: string, query: Query, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const u = url(this.server, path, { ...query, watch: 'true' });
    const ctx = await this.prepare(u, HttpMethod.GET);
    let res;
    try {
      res = await fetch(u, { method: 'GET', headers: ctx.headers, dispatcher: ctx.dispatcher, signal });
    } catch (e) {
      if (signal.aborted) return;
      throw new KubeError(0, 'Transport', `watch ${path}: ${(e as Error).message}`);
    }
    if (res.status !== 200 || !res.body) {
      const text = await res.text().catch(() => '');
      throw new KubeError(res.status, String(res.status), `watch ${path}: ${res.status} ${text.slice(0, 300)}`);
    }
    const lines = createInterface({ input: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (!line) continue;
        onEvent(JSON.parse(line) as WatchEvent);
      }
    } catch (e) {
      if (signal.aborted) return;
      throw new KubeError(0, 'Transport', `watch ${path}: ${(e as Error).message}`);
    }
  }
}

/**
 * Load credentials: `--kubeconfig` path, else `$KUBECONFIG` (resolved by the
 * config parser and passed in), else the in-cluster service account.
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}
