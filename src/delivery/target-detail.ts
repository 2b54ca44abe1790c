import { redactBody } from './redact.js';

/**
 * The target's own words for a rejection, for the SCIM error Entra shows in its provisioning
 * logs: the first message-like field of a JSON body (`detail`, `message`, `error_description`,
 * `error`, `title`, also inside `error` or `errors[0]`), else the body text; always redacted
 * and cut short like a failed job's reason.
 */

const MESSAGE_KEYS = ['detail', 'message', 'error_description', 'error', 'title'] as const;

export function targetDetail(bodyText: string): string {
  let found: string | undefined;
  try {
    found = pick(JSON.parse(bodyText) as unknown, 0);
  } catch {
    // Not JSON: the text itself is the detail.
  }
  return redactBody(found ?? bodyText) || '(no detail)';
}

function pick(value: unknown, depth: number): string | undefined {
  if (depth > 2 || !value || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) return pick(value[0], depth + 1);
  const record = value as Record<string, unknown>;
  for (const key of MESSAGE_KEYS) {
    const inner = record[key];
    if (typeof inner === 'string' && inner.trim() !== '') return inner;
  }
  return pick(record.error, depth + 1) ?? pick(record.errors, depth + 1);
}
