/**
 * An experiment, not product code: a stand-in for the three things
 * src/watcher/kube-client.ts takes from @kubernetes/client-node (KubeConfig,
 * RequestContext, HttpMethod), so a benchmark can measure what config-reloader
 * would cost without that package (importing it alone adds ~85 MB of RSS: it
 * loads ~2,700 generated model and API modules) and with one reused
 * connection pool instead of a new undici Agent (TCP + TLS handshake) per
 * request.
 *
 * bench/lib/build.ts swaps it into a temp build (`--entry dist-slim`); src/ is
 * untouched. It covers what the benchmarks use (client certificates or a
 * bearer token from a kubeconfig file, and the in-cluster service account),
 * not exec plugins, auth providers or proxies. Plain JavaScript: it is loaded
 * into the compiled build, where a .ts file would pull in the type stripper.
 */
import { readFileSync } from 'node:fs';
import { load as parseYaml } from 'js-yaml';
import { Agent } from 'undici';

export const HttpMethod = Object.freeze({ GET: 'GET', POST: 'POST', PUT: 'PUT', PATCH: 'PATCH', DELETE: 'DELETE', HEAD: 'HEAD', OPTIONS: 'OPTIONS' });

export class RequestContext {
  constructor(url, method) {
    this.url = url;
    this.method = method;
    this.headers = {};
    this.dispatcher = undefined;
  }
  getUrl() {
    return this.url;
  }
  getHttpMethod() {
    return this.method;
  }
  getHeaders() {
    return this.headers;
  }
  setHeaderParam(key, value) {
    this.headers[key] = value;
  }
  getDispatcher() {
    return this.dispatcher;
  }
  setDispatcher(d) {
    this.dispatcher = d;
  }
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const b64 = (s) => Buffer.from(s, 'base64').toString('utf8');
const dataOrFile = (data, file) => (data ? b64(data) : file ? readFileSync(file, 'utf8') : undefined);

export class KubeConfig {
  constructor() {
    this.cluster = undefined;
    this.user = undefined;
    this.agent = undefined;
    this.tokenFile = undefined;
    this.token = undefined;
    this.tokenReadAt = 0;
  }

  loadFromFile(path) {
    const doc = parseYaml(readFileSync(path, 'utf8'));
    const ctxName = doc['current-context'];
    const ctx = (doc.contexts ?? []).find((c) => c.name === ctxName)?.context ?? doc.contexts?.[0]?.context;
    if (!ctx) throw new Error(`${path}: no current context`);
    const cluster = (doc.clusters ?? []).find((c) => c.name === ctx.cluster);
    const user = (doc.users ?? []).find((u) => u.name === ctx.user)?.user ?? {};
    if (!cluster) throw new Error(`${path}: no cluster ${ctx.cluster}`);
    const c = cluster.cluster;
    this.cluster = {
      name: cluster.name,
      server: c.server,
      caPem: dataOrFile(c['certificate-authority-data'], c['certificate-authority']),
      skipTLSVerify: c['insecure-skip-tls-verify'] === true,
      tlsServerName: c['tls-server-name'],
    };
    this.user = {
      certPem: dataOrFile(user['client-certificate-data'], user['client-certificate']),
      keyPem: dataOrFile(user['client-key-data'], user['client-key']),
    };
    this.token = user.token;
    this.tokenFile = user.tokenFile;
  }

  loadFromCluster() {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)');
    this.cluster = { name: 'in-cluster', server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, caPem: readFileSync(`${SA_DIR}/ca.crt`, 'utf8'), skipTLSVerify: false };
    this.user = {};
    this.tokenFile = `${SA_DIR}/token`;
  }

  getCurrentCluster() {
    return this.cluster;
  }

  /** Bound service-account tokens rotate: re-read the file once a minute. */
  currentToken() {
    if (this.tokenFile && Date.now() - this.tokenReadAt > 60_000) {
      this.token = readFileSync(this.tokenFile, 'utf8').trim();
      this.tokenReadAt = Date.now();
    }
    return this.token;
  }

  async applySecurityAuthentication(ctx) {
    const token = this.currentToken();
    if (token) ctx.setHeaderParam('Authorization', `Bearer ${token}`);
    this.agent ??= new Agent({
      connect: {
        ca: this.cluster.caPem,
        cert: this.user.certPem,
        key: this.user.keyPem,
        rejectUnauthorized: !this.cluster.skipTLSVerify,
        ...(this.cluster.tlsServerName ? { servername: this.cluster.tlsServerName } : {}),
      },
      keepAliveTimeout: 60_000,
    });
    ctx.setDispatcher(this.agent);
  }
}
