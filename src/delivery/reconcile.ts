import { createValueReader } from '../mapping/target-id.js';
import type { ListRule } from '../mapping/schema.js';
import type { MappingPlan } from '../mapping/types.js';
import { BridgeError } from '../lib/errors.js';
import type { ResourceType, ScimResource } from '../scim/types.js';
import type { ResourceStore } from '../store/types.js';
import type { TargetClient } from './http-client.js';
import type { DeliveryJobData } from './types.js';

/**
 * Reconcile: read everything the target holds (the mapping's `list:` rule, page by page), set it
 * against the bridge's view (every live resource and its delivery state), and repair drift by
 * re-delivering: a resource whose target account lost it, or whose mapped fields differ, gets its
 * delivery state reset and a job, so the worker converges the target on the stored state again.
 * Target accounts the bridge does not manage (orphans) are only reported, never touched.
 */

export interface ReconcileDeps {
  connectionId: string;
  store: ResourceStore;
  plan: MappingPlan;
  client: Pick<TargetClient, 'send'>;
  enqueue(jobs: DeliveryJobData[]): Promise<void>;
}

export interface TypeReport {
  type: ResourceType;
  /** False when the mapping has no `list:` rule for this type (nothing was compared). */
  listed: boolean;
  target: number;
  bridge: number;
  inSync: number;
  /** Bridge ids whose target account differs; with the target field names that differ. */
  drifted: Array<{ id: string; targetId: string; fields: string[] }>;
  /** Bridge ids whose target account is gone. */
  missing: Array<{ id: string; targetId: string }>;
  /** Bridge ids not delivered yet (no target id): the queue is still on them. */
  pending: string[];
  /** Target ids the bridge does not manage. */
  orphans: string[];
  /** Jobs queued to repair drifted and missing resources (0 on a dry run). */
  redelivered: number;
}

export interface ReconcileReport {
  connectionId: string;
  dryRun: boolean;
  types: TypeReport[];
}

/** Upper bound of pages read per type, whatever the target answers. */
const MAX_PAGES = 100_000;
const BATCH = 500;

export async function reconcile(deps: ReconcileDeps, options: { dryRun: boolean }): Promise<ReconcileReport> {
  const types: TypeReport[] = [];
  for (const type of ['User', 'Group'] as const) {
    if (!deps.plan.supports(type)) continue;
    types.push(await reconcileType(deps, type, options.dryRun));
  }
  return { connectionId: deps.connectionId, dryRun: options.dryRun, types };
}

async function reconcileType(deps: ReconcileDeps, type: ResourceType, dryRun: boolean): Promise<TypeReport> {
  const { store, plan } = deps;
  const report: TypeReport = { type, listed: false, target: 0, bridge: 0, inSync: 0, drifted: [], missing: [], pending: [], orphans: [], redelivered: 0 };
  const rule = plan.listRule?.(type);
  if (!rule) return report;
  report.listed = true;

  const items = await listTarget(deps.client, rule, type);
  report.target = items.size;
  const managed = new Set<string>();
  const repairs: Array<{ id: string; revision: number; missing: boolean; targetId: string }> = [];

  const { total } = await store.list(type, 1, 0);
  for (let start = 1; start <= total; start += BATCH) {
    const { ids } = await store.list(type, start, BATCH);
    const resources = await store.getMany(type, ids);
    const states = await Promise.all(resources.map((r) => store.getDeliveryState(type, r.id)));
    resources.forEach((resource, i) => {
      report.bridge += 1;
      const targetId = states[i]?.targetId;
      if (!targetId) {
        report.pending.push(resource.id);
        return;
      }
      managed.add(targetId);
      const item = items.get(targetId);
      if (!item) {
        report.missing.push({ id: resource.id, targetId });
        repairs.push({ id: resource.id, revision: resource.revision, missing: true, targetId });
      } else {
        repairs.push({ id: resource.id, revision: resource.revision, missing: false, targetId });
      }
    });
  }
  // Field comparison after the scan, one resource at a time (mapping evaluation is async).
  for (const repair of repairs.filter((r) => !r.missing)) {
    const resource = await store.get(type, repair.id);
    const differing = resource ? await driftedFields(plan, type, resource.doc, items.get(repair.targetId)) : [];
    if (differing.length === 0) report.inSync += 1;
    else report.drifted.push({ id: repair.id, targetId: repair.targetId, fields: differing });
  }
  for (const targetId of items.keys()) if (!managed.has(targetId)) report.orphans.push(targetId);

  if (!dryRun) {
    const drifted = new Set(report.drifted.map((d) => d.id));
    const jobs: DeliveryJobData[] = [];
    const trigger = `reconcile-${Date.now()}`;
    for (const repair of repairs) {
      if (!repair.missing && !drifted.has(repair.id)) continue;
      jobs.push(...(await resetDelivery(deps, type, repair, trigger)));
    }
    await deps.enqueue(jobs);
    report.redelivered = jobs.length;
  }
  return report;
}

/**
 * Makes the next delivery start over for one resource: for drift, forget what was delivered
 * (the update goes out again); for a vanished account, forget the target id too (lookup or
 * create again), and the memberships that pointed at it.
 */
async function resetDelivery(
  deps: ReconcileDeps,
  type: ResourceType,
  repair: { id: string; revision: number; missing: boolean; targetId: string },
  trigger: string,
): Promise<DeliveryJobData[]> {
  const { store, connectionId } = deps;
  const jobs: DeliveryJobData[] = [{ connectionId, type, id: repair.id, revision: repair.revision, trigger }];
  if (!repair.missing) {
    await store.setDeliveryState(type, repair.id, { targetId: repair.targetId, revision: 0 });
    return jobs;
  }
  await store.setDeliveryState(type, repair.id, { revision: 0 });
  if (type === 'Group') {
    for (const memberId of (await store.getDeliveredMembers(repair.id)).keys()) await store.setDeliveredMember(repair.id, memberId, null);
  } else {
    for (const groupId of await store.groupsOf(repair.id)) {
      await store.setDeliveredMember(groupId, repair.id, null);
      const group = await store.get('Group', groupId);
      if (group) jobs.push({ connectionId, type: 'Group', id: groupId, revision: group.revision, trigger });
    }
  }
  return jobs;
}

/** Target field names whose value in the target's item differs from the mapped value. */
async function driftedFields(plan: MappingPlan, type: ResourceType, doc: ScimResource, item: unknown): Promise<string[]> {
  if (!item || typeof item !== 'object') return [];
  let fields: Record<string, unknown>;
  try {
    fields = await plan.fields(type, doc);
  } catch {
    // Fields that need context (references, groups) cannot be compared here: leave them to the queue.
    return [];
  }
  const record = item as Record<string, unknown>;
  // Only fields the target shows are compared: many targets never echo some (passwords, secrets).
  return Object.keys(fields).filter((key) => key in record && canonical(record[key]) !== canonical(fields[key]));
}

function canonical(value: unknown): string {
  if (value === undefined || value === null || value === '') return 'null';
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** Every item the target lists, by target id. */
export async function listTarget(client: Pick<TargetClient, 'send'>, rule: ListRule, type: ResourceType): Promise<Map<string, unknown>> {
  const readItems = rule.items ? createValueReader(rule.items) : (answer: { body: unknown }) => answer.body;
  const readId = createValueReader(rule.id);
  const readNext = rule.next ? createValueReader(rule.next) : undefined;
  const items = new Map<string, unknown>();
  let position = rule.start ?? (rule.paging === 'page' ? 1 : 0);
  let cursor = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    const values: Record<string, string> = { page: String(position), offset: String(position), size: String(rule.size), cursor };
    const path = rule.path.replace(/\{(page|offset|size|cursor)\}/g, (_m, name: string) => encodeURIComponent(values[name] ?? ''));
    const response = await client.send({ method: 'GET', path, headers: {} });
    if (response.status < 200 || response.status >= 300) {
      throw new BridgeError('GW_RECONCILE_LIST', `listing ${type}s: GET ${path.split('?')[0]} answered ${response.status}`);
    }
    const answer = { status: response.status, headers: response.headers, body: response.json };
    const list = readItems(answer);
    if (!Array.isArray(list)) {
      throw new BridgeError('GW_RECONCILE_LIST', `listing ${type}s: the answer has no list at "${rule.items ?? '(the whole body)'}"`);
    }
    let fresh = 0;
    for (const item of list) {
      const id = readId({ status: response.status, headers: {}, body: item });
      if (id === undefined || id === null || id === '') continue;
      if (!items.has(String(id))) fresh += 1;
      items.set(String(id), item);
    }
    if (list.length > 0 && fresh === 0) {
      throw new BridgeError('GW_RECONCILE_LIST', `listing ${type}s: page ${page + 1} repeated items already read; check the paging placeholders of the list rule`);
    }
    if (rule.paging === 'cursor') {
      const next = readNext?.(answer);
      if (next === undefined || next === null || next === '' || list.length === 0) return items;
      cursor = String(next);
    } else {
      if (list.length < rule.size) return items;
      position += rule.paging === 'page' ? 1 : rule.size;
    }
  }
  throw new BridgeError('GW_RECONCILE_LIST', `listing ${type}s: more than ${MAX_PAGES} pages`);
}
