import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadMapping } from '../mapping/load.js';
import type { MappingPlan, PlannedCall, TargetAction } from '../mapping/types.js';
import { ScimError } from '../scim/errors.js';
import { normalizePatch, normalizeResource } from '../scim/normalize.js';
import { applyPatch } from '../scim/patch.js';
import { newResource, replaceResource } from '../scim/resource.js';
import type { MemberChange, ResourceType, ScimResource } from '../scim/types.js';
import type { Io } from './main.js';
import { reportError } from './main.js';

/**
 * `scim-bridge dry-run`: the HTTP calls one SCIM request would cause on the target, computed by
 * the same normalise → patch → map code the API and the worker run, with no network and no Redis.
 * Target ids that only the target could tell are shown as placeholders.
 */

export const TARGET_ID = 'TARGET_ID';
const memberTargetId = (id: string) => `TARGET_ID_OF_${id}`;

interface ScimRequest {
  method: string;
  path: string;
  body?: unknown;
}

export async function runDryRun(args: string[], io: Io): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { mapping: { type: 'string' }, request: { type: 'string' }, state: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`scim-bridge dry-run: ${(err as Error).message}\n`);
    return 2;
  }
  if (!values.mapping || !values.request) {
    io.stderr('Usage: scim-bridge dry-run --mapping FILE --request FILE [--state FILE] [--json]\n');
    return 2;
  }
  try {
    const plan = await loadMapping(values.mapping);
    const request = (await readJson(values.request)) as ScimRequest;
    const state = values.state ? ((await readJson(values.state)) as ScimResource & { members?: { value: string }[] }) : undefined;
    const calls = await dryRun(plan, request, state);
    if (values.json) {
      io.stdout(`${JSON.stringify(calls.map((c) => c.request), null, 2)}\n`);
    } else if (calls.length === 0) {
      io.stdout('no calls: nothing the mapping delivers changes\n');
    } else {
      for (const { request: r } of calls) {
        io.stdout(`${r.method} ${r.path}\n`);
        for (const [name, value] of Object.entries(r.headers)) io.stdout(`${name}: ${value}\n`);
        if (r.body !== undefined) io.stdout(`${JSON.stringify(r.body, null, 2)}\n`);
        io.stdout('\n');
      }
      io.stdout("(plus the connection's target auth header on every call)\n");
    }
    return 0;
  } catch (err) {
    if (err instanceof ScimError) {
      io.stderr(`the bridge would answer ${err.status}: ${JSON.stringify(err.toBody())}\n`);
      return 1;
    }
    return reportError(err, io);
  }
}

/** The calls for one SCIM request against an optional existing resource (`state`). */
export async function dryRun(
  plan: MappingPlan,
  request: ScimRequest,
  state?: ScimResource & { members?: { value: string }[] },
): Promise<PlannedCall[]> {
  const match = /^\/?(Users|Groups)(?:\/([^/?]+))?/i.exec(request.path ?? '');
  if (!match) throw new Error(`request.path must start with /Users or /Groups, got "${request.path}"`);
  const type: ResourceType = match[1]!.toLowerCase() === 'users' ? 'User' : 'Group';
  const method = String(request.method ?? '').toUpperCase();
  if (!plan.supports(type)) return [];
  const now = new Date();
  const calls: PlannedCall[] = [];
  const add = async (resource: ScimResource, action: TargetAction) =>
    calls.push(...(await plan.plan({ type, resource, targetId: action.kind === 'lookup' || action.kind === 'create' ? undefined : TARGET_ID, action })));

  if (method === 'POST') {
    const { doc, members } = newResource(type, normalizeResource(type, request.body), { id: 'NEW_ID', now });
    await rejectOnRules(plan, type, doc);
    if (plan.has(type, 'lookup')) await add(doc, { kind: 'lookup' });
    await add(doc, { kind: 'create' });
    if (doc.active === false && plan.has(type, 'deactivate')) await add(doc, { kind: 'deactivate' });
    await memberCalls(plan, type, doc, new Set(), new Set(members ?? []), calls);
    return calls;
  }

  if (!state) throw new Error(`${method} needs the current resource: pass --state FILE (the resource as GET returns it)`);
  const before: ScimResource = { ...state };
  const beforeMembers = new Set((state.members ?? []).map((m) => m.value));
  delete before.members;

  if (method === 'DELETE') {
    if (plan.has(type, 'delete')) await add(before, { kind: 'delete' });
    else if (plan.has(type, 'deactivate')) await add(before, { kind: 'deactivate' });
    return calls;
  }

  let after: ScimResource;
  let afterMembers = beforeMembers;
  if (method === 'PUT') {
    const replaced = replaceResource(before, normalizeResource(type, request.body), now);
    after = replaced.doc;
    if (type === 'Group') afterMembers = new Set(replaced.members ?? []);
  } else if (method === 'PATCH') {
    const patched = applyPatch(type, before, normalizePatch(request.body));
    after = patched.doc;
    afterMembers = applyMemberChange(beforeMembers, patched.members);
  } else {
    throw new Error(`request.method must be POST, PUT, PATCH or DELETE, got "${request.method}"`);
  }
  await rejectOnRules(plan, type, after);
  // Same order as the worker (delivery/processor.ts): reactivate, update, deactivate.
  const fieldsChanged = JSON.stringify(await plan.fields(type, before)) !== JSON.stringify(await plan.fields(type, after));
  const activeChanged = type === 'User' && (before.active !== false) !== (after.active !== false);
  if (activeChanged && after.active !== false && plan.has(type, 'reactivate')) await add(after, { kind: 'reactivate' });
  if (fieldsChanged && plan.has(type, 'update')) await add(after, { kind: 'update' });
  if (activeChanged && after.active === false && plan.has(type, 'deactivate')) await add(after, { kind: 'deactivate' });
  await memberCalls(plan, type, after, beforeMembers, afterMembers, calls);
  return calls;
}

async function memberCalls(
  plan: MappingPlan,
  type: ResourceType,
  doc: ScimResource,
  before: Set<string>,
  after: Set<string>,
  calls: PlannedCall[],
): Promise<void> {
  if (type !== 'Group') return;
  const member = (id: string) => ({ id, targetId: memberTargetId(id), type: 'User' as const });
  for (const id of after) {
    if (!before.has(id) && plan.has(type, 'addMember'))
      calls.push(...(await plan.plan({ type, resource: doc, targetId: TARGET_ID, action: { kind: 'addMember', member: member(id) } })));
  }
  for (const id of before) {
    if (!after.has(id) && plan.has(type, 'removeMember'))
      calls.push(...(await plan.plan({ type, resource: doc, targetId: TARGET_ID, action: { kind: 'removeMember', member: member(id) } })));
  }
}

function applyMemberChange(current: Set<string>, change: MemberChange | undefined): Set<string> {
  if (!change) return current;
  if (change.kind === 'set') return new Set(change.members);
  const next = new Set(current);
  for (const id of change.add) next.add(id);
  for (const id of change.remove) next.delete(id);
  return next;
}

async function rejectOnRules(plan: MappingPlan, type: ResourceType, doc: ScimResource): Promise<void> {
  const violations = await plan.check(type, doc);
  if (violations.length > 0) throw new ScimError(400, 'invalidValue', violations.map((v) => v.detail).join('; '));
}

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
