import type { DeliveryResult } from '../delivery/processor.js';

/**
 * Why a delivery attempt failed, as data: the worker stores it in the job (`data.failure`), the
 * admin API, CLI and dashboard read it back field by field, and logs carry the same fields.
 * Nothing here is parsed out of a message string.
 */
export interface DeliveryFailure {
  /** A `GW_*` code from docs/errors.md. */
  code: string;
  /** The target's HTTP status, when it answered. */
  status?: number;
  /** The mapping action of the failing call (create, update, addMember…). */
  action?: string;
  method?: string;
  /** The call's path with the target ids as placeholders and the query string elided. */
  path?: string;
  /** The target's answer: redacted and cut short (see delivery/redact.ts). */
  answer?: string;
  /** One line for people (the same text BullMQ keeps as `failedReason`). */
  message: string;
}

/** A failure as stored on a job: plus which attempt it was and when the attempts happened. */
export interface StoredFailure extends DeliveryFailure {
  attempts: number;
  /** ISO time of the first and of the latest failed attempt. */
  firstAttemptAt: string;
  lastAttemptAt: string;
}

const FAILURE = Symbol.for('scim-bridge.deliveryFailure');

/** Attaches failure data to an error about to be thrown to BullMQ. */
export function attachFailure<E extends Error>(error: E, failure: DeliveryFailure): E {
  Object.defineProperty(error, FAILURE, { value: failure, enumerable: false });
  return error;
}

/**
 * The failure data of a thrown error: what {@link attachFailure} put there, else the `GW_*` code
 * the error itself carries (BridgeError and mapping errors have a `code` property), else a
 * generic retryable failure (an unexpected exception is retried, see classify.ts).
 */
export function failureOf(error: unknown): DeliveryFailure {
  if (error && typeof error === 'object') {
    const attached = (error as Record<symbol, unknown>)[FAILURE] as DeliveryFailure | undefined;
    if (attached) return attached;
    const { code, message } = error as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message : String(error);
    if (typeof code === 'string' && code.startsWith('GW_')) return { code, message: text };
    return { code: 'GW_DELIVERY_RETRYABLE', message: text };
  }
  return { code: 'GW_DELIVERY_RETRYABLE', message: String(error) };
}

export type AttemptOutcome = 'delivered' | 'retry' | 'failed' | 'rateLimited';

/** One target call as the timeline and metrics see it. */
export interface CallRecord {
  action: string;
  method: string;
  path: string;
  status?: number;
  durationMs: number;
  outcome: 'ok' | 'retry' | 'rateLimited' | 'reject';
  code?: string;
}

export type DeliveredOutcome = DeliveryResult['outcome'];
