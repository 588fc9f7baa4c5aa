/**
 * Global reload rate limit: a token bucket. It stops a flapping Secret that
 * many workloads use from creating thousands of ReplicaSets per minute.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;

  /** `ratePerSecond` 0 turns the limit off. `burst` defaults to the rate (at least 1). */
  constructor(ratePerSecond: number, burst?: number, now = Date.now()) {
    this.rate = ratePerSecond;
    this.burst = burst ?? Math.max(1, Math.ceil(ratePerSecond));
    this.tokens = this.burst;
    this.last = now;
  }

  /** Take a token: 0 when granted, else the ms to wait before asking again. */
  take(now = Date.now()): number {
    if (this.rate <= 0) return 0;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}
