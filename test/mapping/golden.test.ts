import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMapping } from '../../src/mapping/load.js';
import type { MemberContext, TargetAction } from '../../src/mapping/types.js';
import type { ResourceType, ScimResource } from '../../src/scim/types.js';

/**
 * Golden cases: each folder under cases/ holds a mapping, a SCIM resource and what the engine
 * must make of them (fields, rule violations, the request of every call kind, target id reads).
 * `null` for a call kind means the mapping has no such call.
 */

interface Expected {
  type: ResourceType;
  targetId: string;
  member?: MemberContext;
  fields: Record<string, unknown>;
  violations: { detail: string }[];
  calls: Record<string, unknown>;
  targetIds?: Record<string, { status: number; headers: Record<string, string>; body: unknown; expected: string }>;
}

const casesDir = join(import.meta.dirname, 'cases');
const cases = readdirSync(casesDir);

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

function actionOf(kind: string, member: MemberContext | undefined): TargetAction {
  if (kind === 'addMember' || kind === 'removeMember') {
    if (!member) throw new Error(`case needs a member for ${kind}`);
    return { kind, member };
  }
  return { kind } as TargetAction;
}

describe.each(cases)('golden case %s', (name) => {
  const dir = join(casesDir, name);

  it('maps fields, checks rules and plans every call as expected', async () => {
    const plan = await loadMapping(join(dir, 'mapping.yaml'));
    const resource = await readJson<ScimResource>(join(dir, 'resource.json'));
    const expected = await readJson<Expected>(join(dir, 'expected.json'));

    expect(plan.supports(expected.type)).toBe(true);
    expect(await plan.fields(expected.type, resource)).toEqual(expected.fields);
    expect(await plan.check(expected.type, resource)).toEqual(expected.violations);

    for (const [kind, request] of Object.entries(expected.calls)) {
      const action = actionOf(kind, expected.member);
      const targetId = kind === 'create' || kind === 'lookup' ? undefined : expected.targetId;
      const calls = await plan.plan({ type: expected.type, resource, targetId, action });
      expect(plan.has(expected.type, action.kind), kind).toBe(request !== null);
      expect(calls.map((call) => call.request), kind).toEqual(request === null ? [] : [request]);
    }

    for (const [kind, read] of Object.entries(expected.targetIds ?? {})) {
      const [call] = await plan.plan({ type: expected.type, resource, action: actionOf(kind, expected.member) });
      expect(call?.reader?.readTargetId(read), kind).toBe(read.expected);
    }
  });
});
