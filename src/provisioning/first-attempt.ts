import { badRequest, conflict, type ScimError } from '../scim/errors.js';
import type { ResourceType } from '../scim/types.js';
import type { ConfirmOutcome } from '../store/types.js';

/**
 * The SCIM error Entra logs when the target refused a change for good in first-attempt mode
 * (the change has been rolled back by then): 409 `uniqueness` when the target answered 409,
 * otherwise 400 `invalidValue`, with the target's own reason in `detail`.
 */
export function firstAttemptError(type: ResourceType, outcome: Extract<ConfirmOutcome, { kind: 'rejected' }>): ScimError {
  const what = type.toLowerCase();
  if (outcome.status === 409) return conflict(`the target application refused the ${what} as a duplicate (HTTP 409): ${outcome.detail}`);
  return badRequest('invalidValue', `the target application rejected the ${what} (HTTP ${outcome.status}): ${outcome.detail}`);
}
