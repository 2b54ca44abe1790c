import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fieldsHash, planDelivery, type Delivered, type TargetIdResolver } from '../delivery/plan.js';
import { loadConfig } from '../config/load.js';
import type { BridgeConfig, ConnectionConfig } from '../config/schema.js';
import { loadMapping } from '../mapping/load.js';
import { referenceKey, type EvalContext, type GroupInfo, type HttpRequestSpec, type MappingPlan, type PlannedCall } from '../mapping/types.js';
import { scimError } from '../scim/error-catalog.js';
import { ScimError } from '../scim/errors.js';
import { normalizePatch, normalizeResource } from '../scim/normalize.js';
import { applyPatch } from '../scim/patch.js';
import { newResource, replaceResource } from '../scim/resource.js';
import type { MemberChange, ResourceType, ScimResource } from '../scim/types.js';
import type { Io } from './main.js';
import { summarizeTargetAuth, type TargetAuthSummary } from './target-auth-summary.js';
import { reportError } from './main.js';

/**
 * `scim-bridge dry-run`: the HTTP calls one SCIM request would cause on the target, computed by
 * the same normalise → patch → plan → map code the API and the worker run, with no network and
 * no Redis. With `--config`, each call also shows the headers the connection's target settings
 * add (auth and signing redacted) and a summary of its auth and TLS setup.
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
      options: {
        mapping: { type: 'string' },
        config: { type: 'string' },
        connection: { type: 'string' },
        request: { type: 'string' },
        state: { type: 'string' },
        groups: { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`scim-bridge dry-run: ${(err as Error).message}\n`);
    return 2;
  }
  if ((!values.mapping && !values.config) || !values.request || (values.connection !== undefined && !values.config)) {
    io.stderr(
      'Usage: scim-bridge dry-run (--mapping FILE | --config FILE [--connection ID]) --request FILE [--state FILE] [--groups "Name A,Name B"] [--json]\n',
    );
    return 2;
  }
  try {
    let target: TargetAuthSummary | undefined;
    let mappingFile = values.mapping;
    if (values.config) {
      const connection = pickConnection(await loadConfig(values.config), values.connection);
      if (typeof connection === 'string') {
        io.stderr(`scim-bridge dry-run: ${connection}\n`);
        return 2;
      }
      target = summarizeTargetAuth(connection.target);
      target.lines[0] = `${target.lines[0]} (connection ${connection.id})`;
      mappingFile ??= connection.mappingPath;
      if (mappingFile === undefined) {
        io.stderr(`scim-bridge dry-run: connection ${connection.id} is mode: proxy; it has no mapping to run\n`);
        return 2;
      }
    }
    const plan = await loadMapping(mappingFile!);
    const request = (await readJson(values.request)) as ScimRequest;
    const state = values.state ? ((await readJson(values.state)) as ScimResource & { members?: { value: string }[] }) : undefined;
    const groups = (values.groups ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '')
      .map((displayName) => ({ id: `GROUP_${displayName}`, displayName }));
    const calls = (await dryRun(plan, request, state, groups)).map((c) => (target ? withTargetHeaders(c.request, target) : c.request));
    if (values.json) {
      io.stdout(`${JSON.stringify(calls, null, 2)}\n`);
    } else if (calls.length === 0) {
      io.stdout('no calls: nothing the mapping delivers changes\n');
      if (target) io.stdout(`\n${target.lines.join('\n')}\n`);
    } else {
      for (const r of calls) {
        io.stdout(`${r.method} ${r.path}\n`);
        for (const [name, value] of Object.entries(r.headers)) io.stdout(`${name}: ${value}\n`);
        if (r.body !== undefined) io.stdout(`${JSON.stringify(r.body, null, 2)}\n`);
        io.stdout('\n');
      }
      if (target) io.stdout(`${target.lines.join('\n')}\n`);
      else io.stdout("(plus the connection's target auth header on every call)\n");
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

/** The connection named, or the only one; a message when that is not clear. */
function pickConnection(config: BridgeConfig, id: string | undefined): ConnectionConfig | string {
  if (id !== undefined) return config.connections.find((c) => c.id === id) ?? `no connection "${id}" in the config (${config.connections.map((c) => c.id).join(', ')})`;
  if (config.connections.length === 1) return config.connections[0]!;
  return `the config has several connections: name one with --connection (${config.connections.map((c) => c.id).join(', ')})`;
}

/** A call's headers as the target client merges them: config headers, the call's, then auth. */
function withTargetHeaders(request: HttpRequestSpec, target: TargetAuthSummary): HttpRequestSpec {
  const own = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { ...request, headers: { ...target.configHeaders, ...own, ...target.authHeaders } };
}

/** The calls for one SCIM request against an optional existing resource (`state`). */
export async function dryRun(
  plan: MappingPlan,
  request: ScimRequest,
  state?: ScimResource & { members?: { value: string }[] },
  groups: GroupInfo[] = [],
): Promise<PlannedCall[]> {
  const resolver = placeholders(groups);
  const match = /^\/?(Users|Groups)(?:\/([^/?]+))?/i.exec(request.path ?? '');
  if (!match) throw new Error(`request.path must start with /Users or /Groups, got "${request.path}"`);
  const type: ResourceType = match[1]!.toLowerCase() === 'users' ? 'User' : 'Group';
  const method = String(request.method ?? '').toUpperCase();
  if (!plan.supports(type)) return [];
  const now = new Date();

  if (method === 'POST') {
    const { doc, members } = newResource(type, normalizeResource(type, request.body), { id: 'NEW_ID', now });
    await rejectOnRules(plan, type, doc);
    return simulate(plan, type, { doc, members: members ?? [], deleted: false }, { state: null, members: new Map() }, resolver);
  }

  if (!state) throw new Error(`${method} needs the current resource: pass --state FILE (the resource as GET returns it)`);
  const before: ScimResource = { ...state };
  const beforeMembers = (state.members ?? []).map((m) => m.value);
  delete before.members;
  // The bridge delivered `state` before this request: that is what the worker compares against.
  const delivered: Delivered = {
    state: {
      targetId: TARGET_ID,
      revision: 1,
      bodyHash: await fieldsHash(plan, type, before, await contextFor(plan, type, before, resolver)),
      ...(plan.usesPrevious(type) ? { fields: await plan.fields(type, before, await contextFor(plan, type, before, resolver)) } : {}),
      ...(type === 'User' ? { active: before.active !== false } : {}),
    },
    members: new Map(beforeMembers.map((id) => [id, memberTargetId(id)])),
  };

  if (method === 'DELETE') return simulate(plan, type, { doc: before, members: [], deleted: true }, delivered, resolver);

  let after: ScimResource;
  let afterMembers = new Set(beforeMembers);
  if (method === 'PUT') {
    const replaced = replaceResource(before, normalizeResource(type, request.body), now);
    after = replaced.doc;
    if (type === 'Group') afterMembers = new Set(replaced.members ?? []);
  } else if (method === 'PATCH') {
    const patched = applyPatch(type, before, normalizePatch(type, request.body));
    after = patched.doc;
    afterMembers = applyMemberChange(afterMembers, patched.members);
  } else {
    throw new Error(`request.method must be POST, PUT, PATCH or DELETE, got "${request.method}"`);
  }
  await rejectOnRules(plan, type, after);
  return simulate(plan, type, { doc: after, members: [...afterMembers], deleted: false }, delivered, resolver);
}

/**
 * Runs the worker's planner (delivery/plan.ts) with no target: lookups find nothing, creates
 * answer TARGET_ID, every member and referenced resource already has its placeholder target id
 * (TARGET_ID_OF_<id>), and values captured from answers show as CAPTURED_<name>.
 */
async function simulate(
  plan: MappingPlan,
  type: ResourceType,
  resource: { doc: ScimResource; members: string[]; deleted: boolean },
  delivered: Delivered,
  resolver: TargetIdResolver,
): Promise<PlannedCall[]> {
  const current = { type, id: resource.doc.id, revision: 2, doc: resource.doc, deleted: resource.deleted, ...(type === 'Group' ? { members: resource.members } : {}) };
  const calls: PlannedCall[] = [];
  let state = delivered.state;
  const members = new Map(delivered.members);
  // A create makes the planner stop early (one more round); a group with more member calls than
  // one job makes goes on in follow-up jobs (a round each, until every member is through).
  for (let round = 0, more = true; more && round < 1_000; round += 1) {
    const planned = await planDelivery({ type, current, delivered: { state, members }, mapping: plan, resolver, recheck: round > 0 });
    for (const step of planned.steps) {
      if (step.member) record(members, step.member);
      for (const member of step.members ?? []) record(members, member);
      if (!step.action) continue;
      const input = { type, resource: resource.doc, targetId: TARGET_ID, action: step.action, context: planned.context, captured: CAPTURED };
      calls.push(...(await plan.plan(input)));
      if (step.link === 'create') state = { revision: 0, ...step.after, targetId: TARGET_ID };
      else if (step.after) state = { ...(state ?? { revision: 0 }), ...step.after };
    }
    more = !planned.complete || planned.outcome === 'continued';
  }
  return calls;
}

function record(members: Map<string, string>, member: { id: string; targetId: string | null }): void {
  if (member.targetId === null) members.delete(member.id);
  else members.set(member.id, member.targetId);
}

function placeholders(groups: GroupInfo[]): TargetIdResolver {
  return {
    member: async (id) => ({ id, targetId: memberTargetId(id), type: 'User' }),
    isGroup: async () => false,
    reference: async (_type, id) => memberTargetId(id),
    groupsOf: async () => groups,
  };
}

/** Any captured name reads as CAPTURED_<name>. */
const CAPTURED: Record<string, unknown> = new Proxy({}, { get: (_target, name) => (typeof name === 'string' ? `CAPTURED_${name}` : undefined) });

/** The evaluation context the worker would build for `doc` (for the "before" hash). */
async function contextFor(plan: MappingPlan, type: ResourceType, doc: ScimResource, resolver: TargetIdResolver): Promise<EvalContext> {
  const context: EvalContext = type === 'User' && plan.usesGroups('User') ? { groups: await resolver.groupsOf(doc.id) } : {};
  const targetIds = new Map<string, string | null>();
  for (const ref of await plan.references(type, doc, context)) targetIds.set(referenceKey(ref.type, ref.id), memberTargetId(ref.id));
  return { ...context, targetIds };
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
  if (violations.length > 0) throw scimError('RULE_FAILED', { rules: violations.map((v) => v.detail).join('; ') });
}

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
