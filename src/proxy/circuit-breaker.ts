/**
 * A circuit breaker per upstream. After `failures` consecutive failures the circuit opens and
 * callers are refused at once (a 503 with Retry-After instead of piling requests onto a dead
 * upstream); after `openMs` one trial request goes through (half-open): its success closes the
 * circuit, its failure opens it for another `openMs`. Pure state with an injectable clock.
 * @see https://martinfowler.com/bliki/CircuitBreaker.html
 */

export interface CircuitBreakerOptions {
  failures: number;
  openMs: number;
  now?: () => number;
}

export type Admission = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface CircuitBreaker {
  /** Whether a request may go to the upstream now; call succeeded()/failed() with its outcome. */
  admit(): Admission;
  succeeded(): void;
  failed(): void;
  readonly state: 'closed' | 'open' | 'half-open';
}

export function createCircuitBreaker({ failures, openMs, now = Date.now }: CircuitBreakerOptions): CircuitBreaker {
  let consecutive = 0;
  let openUntil = 0;
  let trialInFlight = false;

  const isOpen = () => consecutive >= failures;

  return {
    get state() {
      if (!isOpen()) return 'closed';
      return now() < openUntil ? 'open' : 'half-open';
    },
    admit() {
      if (!isOpen()) return { allowed: true };
      const remaining = openUntil - now();
      if (remaining > 0) return { allowed: false, retryAfterMs: remaining };
      // Half-open: exactly one trial at a time; the others wait for its outcome.
      if (trialInFlight) return { allowed: false, retryAfterMs: Math.min(openMs, 1_000) };
      trialInFlight = true;
      return { allowed: true };
    },
    succeeded() {
      consecutive = 0;
      trialInFlight = false;
    },
    failed() {
      consecutive += 1;
      trialInFlight = false;
      if (isOpen()) openUntil = now() + openMs;
    },
  };
}
