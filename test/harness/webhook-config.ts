/**
 * The one webhook entry of a MutatingWebhookConfiguration as tests, the demo
 * and the image test register it: DESIGN.md §5 (Pod CREATE only,
 * failurePolicy Ignore, sideEffects None, v1 reviews, 5 s), reached by URL on
 * loopback (the serving certificate carries the IP SAN 127.0.0.1).
 */
export interface PodWebhookOptions {
  port: number;
  /** PEM of the CA; omit to let self-managed mode inject it. */
  caPem?: string;
  namespaceSelector: Record<string, unknown>;
  name?: string;
}

export function podWebhook(o: PodWebhookOptions) {
  return {
    name: o.name ?? 'pods.config-reloader.stakater.com',
    clientConfig: { url: `https://127.0.0.1:${o.port}/mutate`, ...(o.caPem ? { caBundle: Buffer.from(o.caPem).toString('base64') } : {}) },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    failurePolicy: 'Ignore',
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: 5,
    namespaceSelector: o.namespaceSelector,
  };
}
