import type { CallOutcome, Classification } from '../delivery/classify.js';
import { redactBody } from '../delivery/redact.js';
import type { HttpRequestSpec, TargetAction } from '../mapping/types.js';
import type { CallRecord, DeliveryFailure } from './failure.js';
import { pathTemplate } from './path-template.js';

/**
 * Turns one classified target call into what ops see: a call record (timeline, metrics) and,
 * when it failed, the failure data the processor attaches to the error it throws.
 */
export function describeCall(input: {
  action: TargetAction;
  request: Pick<HttpRequestSpec, 'method' | 'path'>;
  outcome: CallOutcome;
  verdict: Classification;
  durationMs: number;
  targetId: string | undefined;
}): { record: CallRecord; failure?: DeliveryFailure } {
  const { action, request, outcome, verdict } = input;
  const status = 'status' in outcome ? outcome.status : undefined;
  const memberTargetId = action.kind === 'addMember' || action.kind === 'removeMember' ? action.member.targetId : undefined;
  const path = pathTemplate(request.path, { targetId: input.targetId, memberTargetId });
  const code = verdict.kind === 'ok' ? undefined : verdict.kind === 'rateLimited' ? 'GW_DELIVERY_RETRYABLE' : verdict.code;
  const record: CallRecord = {
    action: action.kind,
    method: request.method,
    path,
    ...(status === undefined ? {} : { status }),
    durationMs: Math.round(input.durationMs),
    outcome: verdict.kind,
    ...(code === undefined ? {} : { code }),
  };
  if (verdict.kind === 'ok' || code === undefined) return { record };
  const answer = 'bodyText' in outcome ? redactBody(outcome.bodyText) : undefined;
  const failure: DeliveryFailure = {
    code,
    ...(status === undefined ? {} : { status }),
    action: action.kind,
    method: request.method,
    path,
    ...(answer ? { answer } : {}),
    message: verdict.reason,
  };
  return { record, failure };
}
