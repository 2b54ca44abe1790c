import { GROUP_EVENTS, USER_EVENTS, type CallDefinition, type ResponseRule } from './schema.js';
import { SCIM_ID_SPEC } from './target-id.js';
import type { TargetAction } from './types.js';

/**
 * The `webhook:` shorthand of a section: one event call per kind of change, keyed by the bridge's
 * SCIM id (`targetId: scim:id`). It compiles into the section's ordinary calls, so the planner,
 * retries, `on:` rules and signing (`target.signing`) are exactly those of hand-written calls.
 * @see ../../docs/mapping.md#webhook-targets
 */

export interface WebhookBlock {
  method?: 'POST' | 'PUT' | 'PATCH';
  path: string;
  events?: readonly string[];
  prefix?: string;
  headers?: Record<string, string>;
  body?: unknown;
  memberBody?: unknown;
  on?: ResponseRule[];
}

/** The action each event becomes. */
const ACTION_OF: Record<string, TargetAction['kind']> = {
  created: 'create',
  updated: 'update',
  deactivated: 'deactivate',
  reactivated: 'reactivate',
  deleted: 'delete',
  member_added: 'addMember',
  member_removed: 'removeMember',
};

/** The event an action stands for (`create` → `created`), for messages such as `users.webhook.created`. */
export function eventOf(action: TargetAction['kind']): string {
  return Object.keys(ACTION_OF).find((event) => ACTION_OF[event] === action) ?? action;
}

export const DEFAULT_EVENT_BODY = { type: '{event}', id: '{resource.id}', data: '{fields}', previous: '{previous}' } as const;
export const DEFAULT_MEMBER_EVENT_BODY = { type: '{event}', id: '{resource.id}', member: '{member.targetId}' } as const;

/** The calls of a webhook block, by action; `{event}` in the path or a body becomes the event's type. */
export function webhookCalls(key: 'users' | 'groups', webhook: WebhookBlock): Map<TargetAction['kind'], CallDefinition> {
  const events = webhook.events ?? (key === 'users' ? USER_EVENTS : GROUP_EVENTS);
  const prefix = webhook.prefix ?? (key === 'users' ? 'user' : 'group');
  const calls = new Map<TargetAction['kind'], CallDefinition>();
  for (const event of events) {
    const action = ACTION_OF[event];
    if (!action) continue;
    const member = event === 'member_added' || event === 'member_removed';
    const body = member ? ('memberBody' in webhook ? webhook.memberBody : DEFAULT_MEMBER_EVENT_BODY) : 'body' in webhook ? webhook.body : DEFAULT_EVENT_BODY;
    calls.set(action, {
      method: webhook.method ?? 'POST',
      path: withEvent(webhook.path, `${prefix}.${event}`) as string,
      ...(webhook.headers ? { headers: webhook.headers } : {}),
      body: withEvent(body, `${prefix}.${event}`),
      ...(action === 'create' ? { targetId: SCIM_ID_SPEC } : {}),
      ...(webhook.on ? { on: webhook.on } : {}),
    });
  }
  return calls;
}

/** `{event}` (not `{{event}}`) in every string leaf → the event type; `{{`/`}}` stay for the template parser. */
function withEvent(value: unknown, type: string): unknown {
  if (typeof value === 'string') return value.replace(/(?<!\{)\{event\}(?!\})/g, type);
  if (Array.isArray(value)) return value.map((item) => withEvent(item, type));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, withEvent(item, type)]));
  return value;
}
