import type { DeliveryState } from './types.js';

/**
 * How a resource's delivery state is kept in its record: JSON with one-letter names and
 * booleans as 0/1, about 40 bytes less per resource than the state's own names. The state of
 * a release before this form (`{"revision": …}`) is read as it is.
 */
const SHORT = {
  revision: 'r',
  targetId: 't',
  bodyHash: 'h',
  active: 'a',
  createPending: 'c',
  progress: 'p',
  nameHash: 'n',
  fields: 'f',
} as const satisfies Record<keyof DeliveryState, string>;

type Name = keyof typeof SHORT;
const BOOLEAN: ReadonlySet<Name> = new Set<Name>(['active', 'createPending']);
const LONG = new Map<string, Name>(Object.entries(SHORT).map(([long, short]) => [short, long as Name]));

export function encodeDeliveryState(state: DeliveryState): string {
  const short: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(state) as [Name, unknown][]) {
    if (value === undefined || !(name in SHORT)) continue;
    short[SHORT[name]] = BOOLEAN.has(name) ? (value ? 1 : 0) : value;
  }
  return JSON.stringify(short);
}

export function decodeDeliveryState(json: string): DeliveryState {
  const stored = JSON.parse(json) as Record<string, unknown>;
  if ('revision' in stored) return stored as unknown as DeliveryState;
  const state: Record<string, unknown> = {};
  for (const [short, value] of Object.entries(stored)) {
    const name = LONG.get(short);
    if (name) state[name] = BOOLEAN.has(name) ? value === 1 : value;
  }
  return state as unknown as DeliveryState;
}
