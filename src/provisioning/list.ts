import { badRequest } from '../scim/errors.js';
import { compileFilter, type FilterPlan } from '../scim/filter.js';
import type { SchemaRegistry } from '../scim/schema-registry.js';
import { compileSort, type SortKey, type SortPlan } from '../scim/sort.js';
import type { ResourceType } from '../scim/types.js';
import type { ResourceStore, StoredResource } from '../store/types.js';

/**
 * Queries (RFC 7644 §3.4.2): filter, sort and page one resource type of a connection. A filter
 * that pins an indexed attribute costs one lookup plus one read of the candidates (Entra's
 * matching and membership queries, and its Test Connection probe). Anything else is a scan in
 * pages of SCAN_PAGE resources that keeps only the ids (and sort keys) of the matches, refused
 * with 400 `tooMany` when the connection holds more than MAX_SCAN resources of that type, so a
 * query never loads a large connection into memory.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2
 */

export interface ListQuery {
  filter?: string;
  sortBy?: string;
  sortOrder?: string;
  startIndex?: number;
  count?: number;
  /** Whether group members must be loaded for the answer. */
  withMembers: boolean;
}

export interface ListResult {
  total: number;
  startIndex: number;
  resources: StoredResource[];
}

/** RFC 7644 §3.4.2.4: servers may cap `count`; advertised in ServiceProviderConfig. */
export const MAX_PAGE_SIZE = 200;
const DEFAULT_PAGE_SIZE = 100;
/** Most resources of one type a filter or sort may examine without an index. */
export const MAX_SCAN = 10_000;
const SCAN_PAGE = 500;

interface Match {
  id: string;
  key?: SortKey;
  /** Already loaded (index lookups), so the page needs no second read. */
  loaded?: StoredResource;
}

export interface ListerOptions {
  /** Overrides MAX_SCAN (tests use a small cap). */
  maxScan?: number;
}

export function createLister(store: ResourceStore, schemas: SchemaRegistry, options: ListerOptions = {}) {
  const maxScan = options.maxScan ?? MAX_SCAN;
  /** Candidates of an index or id lookup: few, so they are read once, with members if needed. */
  async function lookedUp(type: ResourceType, filter: FilterPlan, members: boolean): Promise<StoredResource[] | undefined> {
    const lookup = filter.lookup;
    let ids: string[];
    if (lookup.kind === 'id') ids = [lookup.id];
    else if (lookup.kind === 'index') ids = await store.findBy(type, lookup.attribute, lookup.value);
    else if (lookup.kind === 'memberOf') ids = await store.groupsOf(lookup.member);
    else return undefined;
    return store.getMany(type, ids, { members });
  }

  /** Every resource of `type`, page by page in creation order, refused beyond MAX_SCAN. */
  async function* scan(type: ResourceType, members: boolean): AsyncGenerator<StoredResource[]> {
    const total = await store.count(type);
    if (total > maxScan) {
      throw badRequest(
        'tooMany',
        `this query has to examine all ${total} ${type.toLowerCase()}s, more than ${maxScan}; filter on id, userName, externalId, displayName, emails or members with eq`,
      );
    }
    for (let start = 1; start <= total; start += SCAN_PAGE) {
      const page = await store.list(type, start, SCAN_PAGE);
      if (page.ids.length === 0) return;
      yield await store.getMany(type, page.ids, { members });
    }
  }

  async function matching(type: ResourceType, filter: FilterPlan | undefined, sort: SortPlan | undefined, members: boolean): Promise<Match[]> {
    const keep = (resource: StoredResource, loaded: boolean): Match => {
      const match: Match = { id: resource.id };
      if (sort) match.key = sort.key(resource.doc);
      if (loaded) match.loaded = resource;
      return match;
    };
    const candidates = filter ? await lookedUp(type, filter, members) : undefined;
    if (candidates) return candidates.filter((r) => filter?.matches(r.doc, r.members) ?? true).map((r) => keep(r, true));
    const matches: Match[] = [];
    const needMembers = type === 'Group' && (filter?.needsMembers ?? false);
    for await (const page of scan(type, needMembers)) {
      for (const resource of page) if (!filter || filter.matches(resource.doc, resource.members)) matches.push(keep(resource, false));
    }
    return matches;
  }

  return async function list(type: ResourceType, query: ListQuery): Promise<ListResult> {
    const startIndex = Math.max(1, query.startIndex ?? 1);
    const count = Math.min(MAX_PAGE_SIZE, Math.max(0, query.count ?? DEFAULT_PAGE_SIZE));
    const withMembers = type === 'Group' && query.withMembers;
    const sort = query.sortBy ? compileSort(type, query.sortBy, query.sortOrder, schemas) : undefined;

    if (!query.filter && !sort) {
      const page = await store.list(type, startIndex, count);
      const resources = count === 0 ? [] : await store.getMany(type, page.ids, { members: withMembers });
      return { total: page.total, startIndex, resources };
    }

    const filter = query.filter ? compileFilter(type, query.filter, schemas) : undefined;
    const candidateMembers = type === 'Group' && (withMembers || (filter?.needsMembers ?? false));
    const matches = await matching(type, filter, sort, candidateMembers);
    // Array.prototype.sort is stable: ties keep creation order.
    if (sort) matches.sort((a, b) => sort.compare(a.key, b.key));
    const page = matches.slice(startIndex - 1, startIndex - 1 + count);
    return { total: matches.length, startIndex, resources: await load(type, page, withMembers) };
  };

  /** The page's resources: the ones read by the lookup, or read now (one round trip). */
  async function load(type: ResourceType, page: Match[], withMembers: boolean): Promise<StoredResource[]> {
    if (page.every((match) => match.loaded)) {
      // Members read only to evaluate the filter are not part of the answer.
      return page.map(({ loaded }) => (withMembers ? (loaded as StoredResource) : withoutMembers(loaded as StoredResource)));
    }
    const loaded = await store.getMany(type, page.map((match) => match.id), { members: withMembers });
    const byId = new Map(loaded.map((resource) => [resource.id, resource]));
    // A resource deleted since the scan is left out of the page.
    return page.flatMap((match) => byId.get(match.id) ?? []);
  }
}

function withoutMembers(resource: StoredResource): StoredResource {
  const { members: _members, memberDetails: _details, ...rest } = resource;
  return rest;
}

export type Lister = ReturnType<typeof createLister>;
