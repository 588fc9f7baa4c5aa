/**
 * Where the API server is and how to authenticate to it: the in-cluster
 * service account, or a kubeconfig file.
 *
 * Why not @kubernetes/client-node's KubeConfig: importing that package loads
 * its ~2,700 generated API and model modules, ~50 MB of RSS (bench/README.md,
 * finding 2) — 40 % of our 125 MB budget — for a few dozen lines of parsing.
 * It is still loaded, lazily, for the kubeconfigs only it understands: users
 * with an `exec` credential plugin or an `auth-provider`.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

/** TLS material for the connection pool. */
export interface TlsOptions {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  rejectUnauthorized: boolean;
  servername?: string | undefined;
}

/** The API server, the TLS options to reach it, and the headers that authenticate a request. */
export interface Credentials {
  /** e.g. `https://10.96.0.1:443`, without a trailing slash. */
  server: string;
  tls: TlsOptions;
  /** Called before every request: tokens rotate (bound service-account tokens, exec plugins). */
  authHeaders(): Promise<Record<string, string>>;
}

/** The in-cluster service account's files (kubelet projects and rotates them). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Bound service-account tokens are rotated by the kubelet (at 80 % of their
 * hour-long lifetime by default); client-go re-reads the file every minute,
 * and so do we.
 */
const TOKEN_REREAD_MS = 60_000;

/** A token read from a file, re-read at most once a minute. */
function tokenFromFile(path: string, now: () => number = Date.now): () => string {
  let token = '';
  let readAt = -Infinity;
  return () => {
    if (now() - readAt >= TOKEN_REREAD_MS) {
      token = readFileSync(path, 'utf8').trim();
      readAt = now();
    }
    return token;
  };
}

function bearer(token: string): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** The in-cluster service's address, from `$KUBERNETES_SERVICE_HOST`/`_PORT` (read by the config parser). */
export interface ServiceAddress {
  serviceHost: string | undefined;
  servicePort: string | undefined;
}

/** The in-cluster configuration: the API service's address and the service account's CA and token. */
export function inClusterCredentials({ serviceHost: host, servicePort: port }: ServiceAddress, dir: string = SERVICE_ACCOUNT_DIR): Credentials {
  if (!host || !port) {
    throw new Error('no kubeconfig given (--kubeconfig or $KUBECONFIG) and not running in a cluster (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset)');
  }
  const token = tokenFromFile(`${dir}/token`);
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(`${dir}/ca.crt`, 'utf8'), rejectUnauthorized: true },
    authHeaders: async () => bearer(token()),
  };
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}
interface KubeconfigDoc {
  'current-context'?: string;
  clusters?: Named<Record<string, unknown>>[];
  users?: Named<Record<string, unknown>>[];
  contexts?: Named<{ cluster?: string; user?: string }>[];
}

/**
 * Merge kubeconfig files as kubectl does for a `$KUBECONFIG` list: the first
 * file to set `current-context` wins, and so does the first entry of a name.
 * Relative paths inside a file are resolved against that file's directory.
 */
async function readKubeconfigs(paths: string[]): Promise<KubeconfigDoc> {
  // js-yaml only when a file is read: in a cluster nothing parses YAML.
  const { load } = await import('js-yaml');
  const merged: Required<KubeconfigDoc> = { 'current-context': '', clusters: [], users: [], contexts: [] };
  for (const path of paths) {
    let doc: KubeconfigDoc;
    try {
      doc = (load(readFileSync(path, 'utf8')) ?? {}) as KubeconfigDoc;
    } catch (e) {
      throw new Error(`kubeconfig ${path}: ${(e as Error).message}`);
    }
    merged['current-context'] ||= doc['current-context'] ?? '';
    const base = dirname(resolve(path));
    for (const field of ['clusters', 'users', 'contexts'] as const) {
      for (const entry of doc[field] ?? []) {
        if (!entry?.name || merged[field].some((e) => e.name === entry.name)) continue;
        merged[field].push(withAbsolutePaths(entry, base) as never);
      }
    }
  }
  return merged;
}

const PATH_FIELDS = ['certificate-authority', 'client-certificate', 'client-key', 'tokenFile'];

function withAbsolutePaths<T extends Named<Record<string, unknown>>>(entry: T, base: string): T {
  const inner = (entry.cluster ?? entry.user) as Record<string, unknown> | undefined;
  if (!inner) return entry;
  const copy: Record<string, unknown> = { ...inner };
  for (const f of PATH_FIELDS) {
    const v = copy[f];
    if (typeof v === 'string' && v && !isAbsolute(v)) copy[f] = resolve(base, v);
  }
  return { ...entry, ...(entry.cluster ? { cluster: copy } : { user: copy }) };
}

/** Inline base64 data, else the file's contents, else undefined. */
function dataOrFile(obj: Record<string, unknown>, field: string): string | undefined {
  const data = obj[`${field}-data`];
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64').toString('utf8');
  const file = obj[field];
  if (typeof file === 'string' && file) return readFileSync(file, 'utf8');
  return undefined;
}

/**
 * Credentials from a kubeconfig file (or a `:`-separated list of them, as
 * `$KUBECONFIG` allows): client certificates, a token or token file, basic
 * auth; `exec` and `auth-provider` users through @kubernetes/client-node,
 * imported only for them.
 */
export async function kubeconfigCredentials(pathList: string): Promise<Credentials> {
  const paths = pathList.split(':').filter(Boolean);
  if (paths.length === 0) throw new Error('kubeconfig: empty path');
  const doc = await readKubeconfigs(paths);
  const where = paths.join(':');
  const ctxName = doc['current-context'];
  const ctx = (ctxName ? doc.contexts?.find((c) => c.name === ctxName) : doc.contexts?.[0])?.context;
  if (!ctx) throw new Error(`kubeconfig ${where}: ${ctxName ? `context "${ctxName}" not found` : 'no contexts'}`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new Error(`kubeconfig ${where}: cluster "${ctx.cluster ?? ''}" not found`);
  const server = typeof cluster.server === 'string' ? cluster.server.replace(/\/+$/, '') : '';
  if (!server) throw new Error(`kubeconfig ${where}: cluster "${ctx.cluster ?? ''}" has no server`);
  if (cluster['proxy-url']) throw new Error(`kubeconfig ${where}: proxy-url is not supported`);
  const user = (ctx.user ? doc.users?.find((u) => u.name === ctx.user)?.user : undefined) ?? {};

  if (user.exec || user['auth-provider']) return pluginCredentials(paths, server);

  const tls: TlsOptions = {
    ca: dataOrFile(cluster, 'certificate-authority'),
    cert: dataOrFile(user, 'client-certificate'),
    key: dataOrFile(user, 'client-key'),
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    servername: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
  };
  let headers: () => Record<string, string> = () => ({});
  if (typeof user.token === 'string' && user.token) {
    const token = user.token;
    headers = () => bearer(token);
  } else if (typeof user.tokenFile === 'string' && user.tokenFile) {
    const token = tokenFromFile(user.tokenFile);
    headers = () => bearer(token());
  } else if (typeof user.username === 'string' && typeof user.password === 'string') {
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    headers = () => ({ authorization: basic });
  }
  return { server, tls, authHeaders: async () => headers() };
}

/**
 * exec plugins and auth providers: @kubernetes/client-node runs the plugin
 * (and caches its credential until it expires); we take the headers and the
 * TLS material it applies to a request's options.
 */
async function pluginCredentials(paths: string[], server: string): Promise<Credentials> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(paths[0]!);
  const apply = async () => {
    const opts: import('node:https').RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return opts;
  };
  const first = await apply();
  const str = (v: unknown) => (v === undefined ? undefined : String(v));
  return {
    server,
    tls: { ca: str(first.ca), cert: str(first.cert), key: str(first.key), rejectUnauthorized: first.rejectUnauthorized !== false },
    authHeaders: async () => {
      const h = (await apply()).headers ?? {};
      return Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => typeof e[1] === 'string'));
    },
  };
}

/**
 * Load credentials: a kubeconfig path (`--kubeconfig`, else `$KUBECONFIG`,
 * resolved by the config parser), else the in-cluster service account.
 */
export async function loadCredentials(kube: ServiceAddress & { kubeconfig: string | undefined }): Promise<Credentials> {
  return kube.kubeconfig ? kubeconfigCredentials(kube.kubeconfig) : inClusterCredentials(kube);
}
