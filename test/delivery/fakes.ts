import type { TargetClient, TargetResponse } from '../../src/delivery/http-client.js';
import type { ResourceLock } from '../../src/delivery/resource-lock.js';
import type { HttpRequestSpec, MappingPlan, PlannedCall, TargetAction } from '../../src/mapping/types.js';
import type { ResourceType, ScimResource } from '../../src/scim/types.js';
import type { DeliveryState, ResourceStore, StoredResource } from '../../src/store/types.js';

/**
 * Small stand-ins for the processor's unit tests: an in-memory ResourceStore (only what the
 * worker uses), a hand-built MappingPlan with one REST call per action, a scripted target
 * client and an in-memory lock.
 */

type Key = `${ResourceType}:${string}`;
const key = (type: ResourceType, id: string): Key => `${type}:${id}`;

export interface MemoryStore extends ResourceStore {
  /** Creates or replaces a resource and bumps its revision (members for groups). */
  put(type: ResourceType, attributes: Record<string, unknown> & { id: string }, members?: string[]): StoredResource;
  /** Deletes it (tombstone), bumping the revision. */
  remove(type: ResourceType, id: string): void;
  states: Map<Key, DeliveryState>;
  delivered: Map<string, Map<string, string>>;
  purged: string[];
}

export function createMemoryStore(): MemoryStore {
  const resources = new Map<Key, StoredResource & { deleted: boolean }>();
  const states = new Map<Key, DeliveryState>();
  const delivered = new Map<string, Map<string, string>>();
  const dependants = new Map<Key, Set<Key>>();
  const purged: string[] = [];
  const unsupported = (): never => {
    throw new Error('not used by delivery');
  };
  const copy = <T>(value: T): T => structuredClone(value);

  return {
    states,
    delivered,
    purged,
    put(type, attributes, members) {
      const previous = resources.get(key(type, attributes.id));
      const doc: ScimResource = {
        schemas: [],
        meta: { resourceType: type, created: '2030-01-01T00:00:00Z', lastModified: '2030-01-01T00:00:00Z' },
        ...attributes,
      };
      const stored = {
        type,
        id: attributes.id,
        revision: (previous?.revision ?? 0) + 1,
        doc,
        deleted: false,
        ...(type === 'Group' ? { members: members ?? previous?.members ?? [] } : {}),
      };
      resources.set(key(type, attributes.id), stored);
      return copy(stored);
    },
    remove(type, id) {
      const previous = resources.get(key(type, id));
      if (previous) resources.set(key(type, id), { ...previous, revision: previous.revision + 1, deleted: true });
    },
    create: unsupported,
    update: unsupported,
    delete: unsupported,
    findBy: unsupported,
    list: unsupported,
    count: unsupported,
    isMember: unsupported,
    clear: unsupported,
    outboxDue: unsupported,
    outboxAck: unsupported,
    outboxClaim: unsupported,
    outboxSize: unsupported,
    getRevision: unsupported,
    settleConfirmation: unsupported,
    collectConfirmation: unsupported,
    async get(type, id) {
      const found = resources.get(key(type, id));
      return found && !found.deleted ? copy(found) : null;
    },
    async getMany(type, ids) {
      const found = await Promise.all(ids.map((id) => this.get(type, id)));
      return found.filter((r): r is StoredResource => r !== null);
    },
    async revisions(type, ids) {
      return (await this.getMany(type, ids)).map(({ id, revision }) => ({ id, revision }));
    },
    async groupsOf(memberId) {
      return [...resources.values()]
        .filter((r) => r.type === 'Group' && !r.deleted && r.members?.includes(memberId))
        .map((r) => r.id);
    },
    async getForDelivery(type, id) {
      const found = resources.get(key(type, id));
      return found ? copy(found) : null;
    },
    async getWithDeliveryState(type, id) {
      return [await this.getForDelivery(type, id), await this.getDeliveryState(type, id)];
    },
    async getDeliveryState(type, id) {
      const state = states.get(key(type, id));
      return state ? copy(state) : null;
    },
    async setDeliveryState(type, id, state) {
      states.set(key(type, id), JSON.parse(JSON.stringify(state)) as DeliveryState);
    },
    async linkDeliveryState(type, id, state) {
      await this.setDeliveryState(type, id, state);
      return { groups: (await this.groupsOf(id)).sort(), dependants: await this.dependantsOf({ type, id }) };
    },
    async getDeliveredMembers(groupId) {
      return new Map(delivered.get(groupId) ?? []);
    },
    async setDeliveredMember(groupId, memberId, memberTargetId) {
      const members = delivered.get(groupId) ?? new Map<string, string>();
      if (memberTargetId === null) members.delete(memberId);
      else members.set(memberId, memberTargetId);
      delivered.set(groupId, members);
    },
    async setDeliveredMembers(groupId, changes) {
      for (const change of changes) await this.setDeliveredMember(groupId, change.id, change.targetId);
    },
    async addDependant(ref, dependant) {
      const set = dependants.get(key(ref.type, ref.id)) ?? new Set<Key>();
      set.add(key(dependant.type, dependant.id));
      dependants.set(key(ref.type, ref.id), set);
    },
    async dependantsOf(ref) {
      return [...(dependants.get(key(ref.type, ref.id)) ?? [])].map((entry) => {
        const [type, id] = entry.split(':') as [ResourceType, string];
        return { type, id };
      });
    },
    async purge(type, id) {
      dependants.delete(key(type, id));
      resources.delete(key(type, id));
      states.delete(key(type, id));
      delivered.delete(id);
      purged.push(key(type, id));
    },
  };
}

export interface FakePlanOptions {
  /** Actions the mapping defines per type; default: everything but lookup. */
  actions?: Partial<Record<ResourceType, Array<TargetAction['kind']>>>;
  /** Makes evaluation fail, as a broken JSONata expression would. */
  failWith?: Error;
}

const ALL: Array<TargetAction['kind']> = ['create', 'update', 'deactivate', 'reactivate', 'delete', 'addMember', 'removeMember'];

/** `users` and `groups` on a REST API; create answers `{ id }`, lookup answers `[{ id }]`. */
export function createFakePlan(options: FakePlanOptions = {}): MappingPlan {
  const actions = { User: options.actions?.User ?? ALL, Group: options.actions?.Group ?? ALL };
  const fields = (type: ResourceType, resource: ScimResource): Record<string, unknown> =>
    type === 'User' ? { login: resource.userName, name: resource.displayName } : { name: resource.displayName };
  const readFrom = (pick: (body: unknown) => unknown) => ({
    spec: 'id',
    readTargetId: ({ body }: { body: unknown }) => {
      const id = pick(body);
      return typeof id === 'string' ? id : undefined;
    },
  });

  const plan: MappingPlan = {
    name: 'fake',
    file: 'fake.yaml',
    supports: (type) => actions[type].length > 0,
    has: (type, action) => actions[type].includes(action),
    callCount: (type, action) => (actions[type].includes(action) ? 1 : 0),
    async planCall(input, index) {
      return (await plan.plan(input))[index];
    },
    async references() {
      return [];
    },
    usesGroups: () => false,
    usesPrevious: () => false,
    memberLimits: () => ({ chunkSize: 100, callsPerJob: 100 }),
    async fields(type, resource) {
      if (options.failWith) throw options.failWith;
      return fields(type, resource);
    },
    async check() {
      return [];
    },
    async plan({ type, resource, targetId, action }): Promise<PlannedCall[]> {
      if (options.failWith) throw options.failWith;
      const base = type === 'User' ? '/users' : '/groups';
      const request = (method: HttpRequestSpec['method'], path: string, body?: unknown): HttpRequestSpec => ({
        method,
        path,
        headers: {},
        ...(body === undefined ? {} : { body }),
      });
      switch (action.kind) {
        case 'create':
          return [{ request: request('POST', base, fields(type, resource)), reader: readFrom((b) => (b as { id?: unknown } | undefined)?.id) }];
        case 'lookup':
          return [
            {
              request: request('GET', `${base}?login=${encodeURIComponent(String(resource.userName ?? resource.displayName))}`),
              reader: readFrom((b) => (Array.isArray(b) ? (b[0] as { id?: unknown } | undefined)?.id : undefined)),
            },
          ];
        case 'update':
          return [{ request: request('PUT', `${base}/${targetId}`, fields(type, resource)) }];
        case 'deactivate':
          return [{ request: request('POST', `${base}/${targetId}/disable`) }];
        case 'reactivate':
          return [{ request: request('POST', `${base}/${targetId}/enable`) }];
        case 'delete':
          return [{ request: request('DELETE', `${base}/${targetId}`) }];
        case 'addMember':
          return [{ request: request('PUT', `${base}/${targetId}/members/${action.member.targetId}`) }];
        case 'removeMember':
          return [{ request: request('DELETE', `${base}/${targetId}/members/${action.member.targetId}`) }];
        case 'addMembers':
          return [{ request: request('POST', `${base}/${targetId}/members`, { ids: action.members.map((m) => m.targetId) }) }];
        case 'removeMembers':
          return [{ request: request('POST', `${base}/${targetId}/members/remove`, { ids: action.members.map((m) => m.targetId) }) }];
      }
    },
  };
  return plan;
}

export type Reply = Partial<TargetResponse> | Error;

export interface FakeClient extends Pick<TargetClient, 'send'> {
  /** Every call as `METHOD path`. */
  calls: string[];
  /** Answers for the next calls matching `METHOD path-prefix`, used once each, in order. */
  script(match: string, ...replies: Reply[]): void;
}

/** Answers 201 `{ id: "t-<n>" }` to POST creates, `[]` to lookups and 204 to the rest, unless scripted. */
export function createFakeClient(): FakeClient {
  const calls: string[] = [];
  const scripted: Array<{ match: string; reply: Reply }> = [];
  let created = 0;
  return {
    calls,
    script(match, ...replies) {
      for (const reply of replies) scripted.push({ match, reply });
    },
    async send(spec) {
      const call = `${spec.method} ${spec.path}`;
      calls.push(call);
      const index = scripted.findIndex(({ match }) => call.startsWith(match));
      if (index !== -1) {
        const reply = scripted.splice(index, 1)[0]?.reply ?? {};
        if (reply instanceof Error) throw reply;
        return { status: 200, headers: {}, bodyText: '', ...reply };
      }
      if (spec.method === 'POST' && /^\/(users|groups)$/.test(spec.path)) {
        created += 1;
        const json = { id: `t-${created}` };
        return { status: 201, headers: {}, bodyText: JSON.stringify(json), json };
      }
      if (spec.method === 'GET') return { status: 200, headers: {}, bodyText: '[]', json: [] };
      return { status: 204, headers: {}, bodyText: '' };
    },
  };
}

/** An in-memory lock; `hold` makes a resource look busy. */
export function createMemoryLock(): ResourceLock & { held: Set<string>; hold(type: ResourceType, id: string): void } {
  const held = new Set<string>();
  return {
    held,
    hold(type, id) {
      held.add(key(type, id));
    },
    async acquire(type, id) {
      if (held.has(key(type, id))) return null;
      held.add(key(type, id));
      return {
        extend: async () => true,
        release: async () => {
          held.delete(key(type, id));
        },
      };
    },
  };
}
