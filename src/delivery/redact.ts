/**
 * Makes a target's response body safe to show in a failed job's reason (dashboard, logs):
 * secrets are masked and the text is cut short. Request headers are never passed here.
 */

/** Keys whose values are masked, wherever they appear in a JSON body. */
export const SECRET_KEY = /pass|secret|token|authorization|api[-_]?key/i;

/** Longest body excerpt kept in a reason. */
export const MAX_BODY_CHARS = 300;

const MASK = '[REDACTED]';

/** `key=value`, `key: value` and `"key":"value"` pairs in text that is not JSON. */
const SECRET_PAIR =
  /((?:pass|secret|token|authorization|api[-_]?key)[\w-]*["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|(?:bearer|basic)\s+[^\s,;&]+|[^\s,;&"']+)/gi;

/** The body as one redacted line of at most MAX_BODY_CHARS characters. */
export function redactBody(bodyText: string, maxChars = MAX_BODY_CHARS): string {
  const text = redactText(bodyText).replace(/\s+/g, ' ').trim();
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

function redactText(bodyText: string): string {
  try {
    return JSON.stringify(redactJson(JSON.parse(bodyText) as unknown));
  } catch {
    return bodyText.replace(SECRET_PAIR, `$1${MASK}`);
  }
}

function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, SECRET_KEY.test(key) ? MASK : redactJson(inner)]),
    );
  }
  return value;
}
