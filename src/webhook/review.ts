/**
 * AdmissionReview v1 shapes and the small pure constructors every response is
 * built from (controller-runtime style: the handler always answers with an
 * AdmissionReview that echoes the request uid, even on error).
 */
import type { Pod } from '../core/types.ts';

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  resource?: { group?: string; version?: string; resource?: string };
  operation?: string;
  namespace?: string;
  name?: string;
  object?: Pod;
  dryRun?: boolean;
  [k: string]: unknown;
}

export interface AdmissionReviewRequest {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch document */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** How one admission ended; the server counts these in a metric label. */
export type AdmissionResult = 'patched' | 'unchanged' | 'not-ours' | 'cache-miss' | 'error';

/**
 * What the HTTP layer sends back: a 200 with a review, or a 400 because the
 * body is not an AdmissionReview at all ("the request is bad", kopf's split).
 */
export type AdmissionOutcome =
  | { status: 200; review: AdmissionReviewResponse; result: AdmissionResult }
  | { status: 400; message: string };

/** Allowed response without a patch. */
export function allow(uid: string): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } };
}

/** Allowed response carrying a JSON Patch (already serialised to JSON text). */
export function allowWithPatch(uid: string, patchJson: string): AdmissionReviewResponse {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(patchJson).toString('base64') },
  };
}

/**
 * Best-effort uid of a body that may be malformed; used when admission threw
 * and we still must echo the uid. Returns undefined when there is none.
 */
export function uidOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const req = (body as { request?: unknown }).request;
  if (typeof req !== 'object' || req === null) return undefined;
  const uid = (req as { uid?: unknown }).uid;
  return typeof uid === 'string' && uid.length > 0 ? uid : undefined;
}

/**
 * Validate that a parsed JSON body is an AdmissionReview v1 request. Returns
 * the review, or a message saying what is wrong (for a 400).
 */
export function parseReview(body: unknown): { ok: true; review: AdmissionReviewRequest } | { ok: false; message: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object (an AdmissionReview)' };
  }
  const b = body as Record<string, unknown>;
  if (b.kind !== 'AdmissionReview') {
    return { ok: false, message: `kind must be "AdmissionReview", got ${JSON.stringify(b.kind ?? null)}` };
  }
  if (b.apiVersion !== 'admission.k8s.io/v1') {
    return { ok: false, message: `apiVersion must be "admission.k8s.io/v1", got ${JSON.stringify(b.apiVersion ?? null)}` };
  }
  const req = b.request;
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    return { ok: false, message: 'request is missing: this is not an AdmissionReview request' };
  }
  const uid = (req as { uid?: unknown }).uid;
  if (typeof uid !== 'string' || uid.length === 0) {
    return { ok: false, message: 'request.uid must be a non-empty string' };
  }
  return { ok: true, review: body as AdmissionReviewRequest };
}
