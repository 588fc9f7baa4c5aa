/**
 * Self-managed certificates (DESIGN.md §7): a Secret in our own namespace
 * holds a long-lived CA and a serving certificate; the CA goes into every
 * webhook of our MutatingWebhookConfiguration; the leader renews the serving
 * certificate well before expiry; every replica follows the Secret and swaps
 * the new certificate in without a restart.
 *
 * Replicas starting together: each tries to create the Secret; the API
 * server lets exactly one create succeed (409 for the others), and the losers
 * read the winner's — so the cluster ends with one CA.
 */
import type { Logger } from 'pino';
import { KubeError, type KubeClient } from '../watcher/kube-client.ts';
import { createCA, createServingCert } from './issue.ts';
import { needsRenewal } from './renewal.ts';
import type { CertPair } from './types.ts';

/** CA lifetime: 10 years; rotating a CA means re-injecting every caBundle. */
export const CA_VALIDITY_DAYS = 3650;
/** Serving certificate lifetime: 1 year, renewed with a third of it left (~4 months). */
export const SERVING_VALIDITY_DAYS = 365;
/**
 * How often every replica re-reads the Secret (and the leader checks renewal
 * and the caBundle). A renewal happens months ahead, so a minute is plenty;
 * a GET a minute per replica costs nothing.
 */
export const CHECK_INTERVAL_MS = 60_000;

export interface SelfManagedOptions {
  namespace: string;
  secretName: string;
  webhookConfigName: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  /** Called with each new serving pair after the initial one. */
  onChange(pair: CertPair): void;
  logger: Logger;
  checkIntervalMs?: number;
}

export interface SelfManagedCerts {
  current(): CertPair;
  /** PEM of the CA (the caBundle). */
  caPem(): string;
  /** Only the leader renews and writes the caBundle (every replica may before HA starts). */
  setLeader(leader: boolean): void;
  /** One check now (tests); never rejects. */
  check(): Promise<void>;
  stop(): Promise<void>;
}

interface SecretObj {
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

interface Material {
  ca: CertPair;
  serving: CertPair;
  resourceVersion?: string;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

function fromSecret(s: SecretObj): Material | undefined {
  const d = s.data ?? {};
  const m = { ca: { cert: unb64(d['ca.crt']), key: unb64(d['ca.key']) }, serving: { cert: unb64(d['tls.crt']), key: unb64(d['tls.key']) } };
  if (!m.ca.cert || !m.ca.key || !m.serving.cert || !m.serving.key) return undefined;
  return { ...m, ...(s.metadata.resourceVersion ? { resourceVersion: s.metadata.resourceVersion } : {}) };
}

/** `raw` with our four keys replaced by `m`'s; its labels, annotations and other keys kept. */
function mergeInto(raw: SecretObj, m: Material): SecretObj {
  const ours = secretBody({ secretName: raw.metadata.name, namespace: raw.metadata.namespace }, m);
  return { ...raw, metadata: { ...raw.metadata }, data: { ...raw.data, ...ours.data } };
}

function secretBody(o: Pick<SelfManagedOptions, 'secretName' | 'namespace'>, m: Material): SecretObj {
  return {
    metadata: { name: o.secretName, namespace: o.namespace, labels: { 'app.kubernetes.io/managed-by': 'config-reloader' }, ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) },
    type: 'kubernetes.io/tls',
    data: { 'ca.crt': b64(m.ca.cert), 'ca.key': b64(m.ca.key), 'tls.crt': b64(m.serving.cert), 'tls.key': b64(m.serving.key) },
  };
}

async function issue(o: SelfManagedOptions, ca?: CertPair): Promise<Material> {
  const theCa = ca ?? (await createCA({ commonName: `config-reloader-ca.${o.namespace}`, validityDays: CA_VALIDITY_DAYS }));
  const serving = await createServingCert({ ca: theCa, dnsNames: o.dnsNames, ipAddresses: o.ipAddresses, validityDays: SERVING_VALIDITY_DAYS });
  return { ca: theCa, serving: { cert: serving.cert, key: serving.key } };
}

/** Get or create the certificate Secret, inject the caBundle, start following it. */
export async function startSelfManagedCerts(client: KubeClient, o: SelfManagedOptions): Promise<SelfManagedCerts> {
  const log = o.logger;
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/secrets`;
  const secretPath = `${path}/${encodeURIComponent(o.secretName)}`;
  let leader = false;
  let stopped = false;
  let warnedMissingMwc = false;

  /** Read the Secret: its material when complete, the raw object when incomplete, or nothing. */
  const readRaw = async (): Promise<SecretObj | undefined> => {
    try {
      return await client.request<SecretObj>('GET', secretPath);
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) return undefined;
      throw e;
    }
  };

  const getOrCreate = async (): Promise<Material> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await readRaw();
      const existing = raw && fromSecret(raw);
      if (existing) return existing;
      const fresh = await issue(o);
      try {
        if (raw) {
          // Present but incomplete (e.g. left by another tool without ca.key):
          // complete it in place, keeping its metadata; a 409 means another
          // replica did it first, and the next read returns theirs.
          const saved = await client.request<SecretObj>('PUT', secretPath, { body: mergeInto(raw, fresh) });
          log.warn({ secret: o.secretName }, 'certificate secret was incomplete; replaced its certificates');
          return { ...fresh, ...(saved.metadata.resourceVersion ? { resourceVersion: saved.metadata.resourceVersion } : {}) };
        }
        const created = await client.request<SecretObj>('POST', path, { body: secretBody(o, fresh) });
        log.info({ secret: o.secretName }, 'created the certificate secret');
        return { ...fresh, ...(created.metadata.resourceVersion ? { resourceVersion: created.metadata.resourceVersion } : {}) };
      } catch (e) {
        // another replica won the race: read again and use its CA
        if (!(e instanceof KubeError) || e.status !== 409) throw e;
      }
    }
    throw new Error(`certificate secret ${o.namespace}/${o.secretName}: kept conflicting with other writers`);
  };

  let material = await getOrCreate();

  const injectCaBundle = async (): Promise<void> => {
    const mwcPath = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(o.webhookConfigName)}`;
    let mwc: { webhooks?: { clientConfig?: { caBundle?: string } }[] };
    try {
      mwc = await client.request('GET', mwcPath);
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) {
        const level = warnedMissingMwc ? 'debug' : 'warn';
        warnedMissingMwc = true;
        log[level]({ webhookConfiguration: o.webhookConfigName }, 'webhook configuration not found; caBundle not injected yet');
        return;
      }
      throw e;
    }
    warnedMissingMwc = false;
    const bundle = b64(material.ca.cert);
    const ops = (mwc.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig?.caBundle === bundle ? [] : [{ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: bundle }],
    );
    if (ops.length === 0) return;
    await client.request('PATCH', mwcPath, { body: ops, contentType: 'application/json-patch+json' });
    log.info({ webhookConfiguration: o.webhookConfigName, webhooks: ops.length }, 'caBundle injected');
  };

  const renewIfDue = async (): Promise<void> => {
    const d = needsRenewal(material.serving.cert, new Date(), { dnsNames: o.dnsNames, ipAddresses: o.ipAddresses, issuerCaPem: material.ca.cert });
    if (!d.renew) return;
    log.info({ reason: d.reason }, 'renewing the serving certificate');
    const next = await issue(o, material.ca);
    const raw = await readRaw();
    if (!raw || raw.metadata.resourceVersion !== material.resourceVersion) return; // changed meanwhile: next check decides again
    try {
      const saved = await client.request<SecretObj>('PUT', secretPath, { body: mergeInto(raw, next) });
      const prev = material.serving.cert;
      material = { ...next, ...(saved.metadata.resourceVersion ? { resourceVersion: saved.metadata.resourceVersion } : {}) };
      if (material.serving.cert !== prev) o.onChange(material.serving);
    } catch (e) {
      if (e instanceof KubeError && e.status === 409) return; // someone else renewed; the next read picks it up
      throw e;
    }
  };

  const check = async (): Promise<void> => {
    try {
      const raw = await readRaw();
      const latest = raw && fromSecret(raw);
      if (latest && latest.serving.cert !== material.serving.cert) {
        material = latest;
        log.info({}, 'certificate secret changed; serving the new certificate');
        o.onChange(material.serving);
      } else if (latest) material = latest;
      if (leader) {
        await renewIfDue();
        await injectCaBundle();
      }
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'certificate check failed');
    }
  };

  const interval = o.checkIntervalMs ?? CHECK_INTERVAL_MS;
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (stopped) return;
    timer = setTimeout(() => void check().then(loop), interval);
    timer.unref();
  };
  loop();

  return {
    current: () => material.serving,
    caPem: () => material.ca.cert,
    setLeader: (v) => {
      leader = v;
      if (v) void check();
    },
    check,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
