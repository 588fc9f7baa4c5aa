/**
 * The admission handler the server mounts on POST /mutate: validates the
 * body, runs the pure mutation, waits briefly on a cache miss, and turns any
 * internal error into an allowed response that echoes the uid (this webhook
 * never blocks a pod).
 */
import type { PolicyOptions } from '../core/policy.ts';
import type { CacheView } from '../core/types.ts';
import { mutatePod } from './mutate.ts';
import { allow, parseReview, type AdmissionOutcome } from './review.ts';

/** The few logger methods the handler uses (pino's signature). */
export interface WebhookLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WebhookOptions {
  policy: PolicyOptions;
  /**
   * How long one admission may wait for a missing owner or resource to reach
   * the caches. The API server gives the whole call `timeoutSeconds` (≤ 5 s,
   * failurePolicy Ignore); a new ReplicaSet's pods usually arrive within
   * ~100 ms of it, so 1 s by default leaves a wide margin on both sides.
   */
  waitMs: number;
  log?: WebhookLogger;
}

/** Build the `admit(body)` function for the server. It never throws. */
export function createAdmissionHandler(view: CacheView, opts: WebhookOptions): (body: unknown) => Promise<AdmissionOutcome> {
  return async (body: unknown): Promise<AdmissionOutcome> => {
    const parsed = parseReview(body);
    if (!parsed.ok) return { status: 400, message: parsed.message };
    const req = parsed.review.request;
    try {
      let step = mutatePod(req, view, opts.policy, opts.waitMs <= 0);
      if (step.kind === 'wait') {
        await view.waitFor(step.keys, opts.waitMs);
        step = mutatePod(req, view, opts.policy, true);
      }
      if (step.kind !== 'done') throw new Error('mutation did not finish after waiting');
      if (step.outcome.result === 'cache-miss') opts.log?.warn({ uid: req.uid, namespace: req.namespace, detail: step.detail }, 'admission cache miss');
      else if (step.detail) opts.log?.debug({ uid: req.uid, namespace: req.namespace, detail: step.detail }, 'admission skipped');
      return step.outcome;
    } catch (err) {
      opts.log?.warn({ uid: req.uid, namespace: req.namespace, err: (err as Error).message }, 'admission failed, allowing without patch');
      return { status: 200, review: allow(req.uid), result: 'error' };
    }
  };
}
