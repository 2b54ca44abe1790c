import { classifyOutcome, type CallOutcome } from './classify.js';
import { PausedError, type CallResult, type ConnectionGate } from './connection-gate.js';
import type { TargetClient } from './http-client.js';
import { currentJobContext } from './job-context.js';
import type { DeliveryLogger } from './logger.js';

/**
 * A target client that asks the connection's gate before every call and tells it how the call
 * went: a paused connection throws PausedError instead of calling, a 429 (or 503 with
 * Retry-After) pauses the whole connection, and transient failures feed the circuit breaker.
 * The processor sees an ordinary client.
 */
export function createGatedClient(client: TargetClient, gate: ConnectionGate, connectionId: string, logger: DeliveryLogger): TargetClient {
  async function settle(method: string, path: string, outcome: CallOutcome, probeToken: string | undefined): Promise<void> {
    const verdict = classifyOutcome({ method, path }, outcome);
    let result: CallResult = 'ok';
    if (verdict.kind === 'rateLimited') {
      result = 'neutral';
      await gate.pause(verdict.delayMs);
    } else if (verdict.kind === 'retry') {
      // A refused token is the bridge's problem, not a sign the target is down.
      result = verdict.code === 'GW_DELIVERY_AUTH' ? 'neutral' : 'failed';
    } else if (verdict.kind === 'reject' && verdict.code === 'GW_DELIVERY_TOO_LARGE') {
      result = 'neutral';
    }
    const { change, pauseMs } = await gate.record(result, probeToken);
    if (change === 'opened' || change === 'reopened') {
      logger.warn({ connectionId, code: 'GW_DELIVERY_BREAKER_OPEN', pauseMs, change }, 'circuit breaker open, deliveries paused');
    } else if (change === 'closed') {
      logger.info({ connectionId }, 'circuit breaker closed, deliveries resume');
    }
  }

  async function settleQuietly(...args: Parameters<typeof settle>): Promise<void> {
    try {
      await settle(...args);
    } catch (err) {
      // The call's own outcome matters more than the bookkeeping (Redis may be down too).
      logger.warn({ connectionId, err: err instanceof Error ? err.message : String(err) }, 'could not record a call with the connection gate');
    }
  }

  return {
    async send(spec) {
      const admission = await gate.admit();
      if (admission.kind === 'paused') throw new PausedError(admission.delayMs, admission.reason);
      const probeToken = admission.kind === 'probe' ? admission.token : undefined;
      try {
        const response = await client.send(spec);
        const context = currentJobContext();
        if (context) context.lastAnswer = { status: response.status, bodyText: response.bodyText };
        await settleQuietly(spec.method, spec.path, response, probeToken);
        return response;
      } catch (error) {
        await settleQuietly(spec.method, spec.path, { error }, probeToken);
        throw error;
      }
    },
    close: () => client.close(),
  };
}
