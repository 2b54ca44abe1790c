import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTERPRISE, groupBody, SCHEMA_ERROR, startApiBridge, tag, userBody, type ApiBridge, type ScimClient } from './support.js';

/**
 * Queries over real HTTP on real Redis: filters with every operator (served by a scan, since
 * they pin no index), sortBy/sortOrder, POST /.search on /Users, /Groups and the root, and
 * startIndex/count edge cases (RFC 7644 §3.4.2). One connection of its own holds a known set.
 */

const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

let b: ApiBridge;
let api: ScimClient;
const run = tag();
const ids: Record<string, string> = {};
let groupId = '';

beforeAll(async () => {
  b = await startApiBridge('api-queries', { connections: [{ id: 'q' }] });
  api = b.clients.q!;
  const people = [
    { key: 'ada', userName: `ada-${run}`, title: 'Engineer', active: true, dept: 'R&D', number: '003' },
    { key: 'bob', userName: `Bob-${run}`, title: 'Manager', active: false, dept: 'Sales', number: '001' },
    { key: 'cyd', userName: `cyd-${run}`, title: 'Engineer', active: true, dept: 'Sales', number: '002' },
  ];
  for (const p of people) {
    const res = await api.request(
      'POST',
      '/Users',
      userBody(p.userName, {
        active: p.active,
        title: p.title,
        emails: [
          { type: 'work', value: `${p.key}@work.example`, primary: true },
          { type: 'home', value: `${p.key}@home.example` },
        ],
        [ENTERPRISE]: { department: p.dept, employeeNumber: p.number },
      }),
    );
    expect(res.status, res.text).toBe(201);
    ids[p.key] = res.body.id;
  }
  const group = await api.request('POST', '/Groups', groupBody(`Team ${run}`, { members: [{ value: ids.ada }, { value: ids.bob }] }));
  expect(group.status, group.text).toBe(201);
  groupId = group.body.id;
});
afterAll(async () => {
  await b?.close();
});

const q = (filter: string) => encodeURIComponent(filter);

async function found(filter: string, extra = ''): Promise<string[]> {
  const res = await api.request('GET', `/Users?filter=${q(filter)}${extra}`);
  expect(res.status, res.text).toBe(200);
  return (res.body.Resources as { id: string }[]).map((r) => r.id);
}

const named = (...keys: string[]) => keys.map((key) => ids[key]);

describe('filters', () => {
  it.each([
    ['title eq "engineer"', ['ada', 'cyd']],
    ['title ne "Engineer"', ['bob']],
    [`userName co "${run}" and userName sw "B"`, ['bob']],
    [`userName ew "${run.toUpperCase()}" and title eq "Manager"`, ['bob']],
    ['active eq false', ['bob']],
    ['active eq "True" and title pr', ['ada', 'cyd']],
    ['emails[type eq "work" and value co "cyd@"]', ['cyd']],
    ['emails[type eq "home"].value eq "ada@home.example"', ['ada']],
    ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales" and not (active eq false)', ['cyd']],
    ['employeeNumber lt "002"', ['bob']],
    ['employeeNumber ge "002"', ['ada', 'cyd']],
    ['(title eq "Manager" or department eq "R&D") and meta.created pr', ['ada', 'bob']],
    ['meta.lastModified gt "2000-01-01T00:00:00Z"', ['ada', 'bob', 'cyd']],
    ['meta.lastModified lt "2000-01-01T00:00:00Z"', []],
  ])('%s', async (filter, expected) => {
    expect((await found(filter)).sort()).toEqual(named(...expected).sort());
  });

  it('finds a group by member with the reverse membership index, and answers membership checks', async () => {
    const res = await api.request('GET', `/Groups?filter=${q(`members[value eq "${ids.bob}"]`)}&excludedAttributes=members`);
    expect(res.body.Resources.map((r: { id: string }) => r.id)).toEqual([groupId]);
    expect(res.body.Resources[0].members).toBeUndefined();
    const check = await api.request('GET', `/Groups?filter=${q(`id eq "${groupId}" and members[value eq "${ids.cyd}"]`)}&attributes=id`);
    expect(check.body.totalResults).toBe(0);
  });

  it('answers a filter that cannot be parsed, or compares a boolean by order, with 400 invalidFilter', async () => {
    for (const filter of ['title eq', 'active gt true', 'meta.lastModified gt "yesterday"', 'emails[type eq "work"']) {
      const res = await api.request('GET', `/Users?filter=${q(filter)}`);
      expect(res.status, filter).toBe(400);
      expect(res.body).toMatchObject({ schemas: [SCHEMA_ERROR], scimType: 'invalidFilter' });
    }
  });
});

describe('sortBy and sortOrder', () => {
  it('sorts by a string case-insensitively, both ways, and by an extension attribute', async () => {
    const base = `userName co "${run}"`;
    expect(await found(base, '&sortBy=userName')).toEqual(named('ada', 'bob', 'cyd'));
    expect(await found(base, '&sortBy=userName&sortOrder=descending')).toEqual(named('cyd', 'bob', 'ada'));
    expect(await found(base, `&sortBy=${ENTERPRISE}:employeeNumber`)).toEqual(named('bob', 'cyd', 'ada'));
    expect(await found(base, '&sortBy=emails.value')).toEqual(named('ada', 'bob', 'cyd'));
  });

  it('advertises sort support and answers a bad sortOrder with 400 invalidValue', async () => {
    expect((await api.request('GET', '/ServiceProviderConfig')).body.sort).toEqual({ supported: true });
    const res = await api.request('GET', '/Users?sortBy=userName&sortOrder=sideways');
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidValue');
  });
});

describe('POST /.search', () => {
  it('searches /Users with a SearchRequest body: filter, sort, paging and attributes', async () => {
    const res = await api.request('POST', '/Users/.search', {
      schemas: [SEARCH_REQUEST],
      filter: `userName co "${run}"`,
      sortBy: 'userName',
      sortOrder: 'descending',
      startIndex: 2,
      count: 1,
      attributes: ['userName'],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1 });
    expect(res.body.Resources).toEqual([{ id: ids.bob, schemas: expect.any(Array), meta: expect.any(Object), userName: `Bob-${run}` }]);
  });

  it('searches /Groups, and both types at the root', async () => {
    const groups = await api.request('POST', '/Groups/.search', { schemas: [SEARCH_REQUEST], filter: `displayName eq "Team ${run}"`, excludedAttributes: ['members'] });
    expect(groups.body.Resources.map((r: { id: string }) => r.id)).toEqual([groupId]);
    expect(groups.body.Resources[0].members).toBeUndefined();
    const root = await api.request('POST', '/.search', { schemas: [SEARCH_REQUEST], filter: `userName sw "ada-${run}" or displayName eq "Team ${run}"` });
    expect(root.status, root.text).toBe(200);
    expect(root.body.totalResults).toBe(2);
    expect(root.body.Resources.map((r: { id: string }) => r.id)).toEqual([ids.ada, groupId]);
    const second = await api.request('POST', '/.search', { filter: `userName sw "ada-${run}" or displayName eq "Team ${run}"`, startIndex: 2, count: 5 });
    expect(second.body.Resources.map((r: { id: string }) => r.id)).toEqual([groupId]);
  });

  it('answers GET on /.search with 405 and a non-integer count with 400 invalidValue', async () => {
    const get = await api.request('GET', '/Users/.search');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const bad = await api.request('POST', '/Users/.search', { count: 'ten' });
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe('invalidValue');
  });
});

describe('startIndex and count (RFC 7644 §3.4.2.4)', () => {
  const page = (query: string) => api.request('GET', `/Users?filter=${q(`userName co "${run}"`)}&sortBy=userName&${query}`);

  it('reads startIndex < 1 as 1 and count < 0 as 0', async () => {
    const first = await page('startIndex=0&count=1');
    expect(first.body).toMatchObject({ startIndex: 1, itemsPerPage: 1, totalResults: 3 });
    expect(first.body.Resources[0].id).toBe(ids.ada);
    expect((await page('startIndex=-5&count=1')).body.startIndex).toBe(1);
    const none = await page('count=-1');
    expect(none.body).toMatchObject({ totalResults: 3, itemsPerPage: 0, Resources: [] });
  });

  it('answers count=0 with totalResults only, and a startIndex past the end with an empty page', async () => {
    const counted = await api.request('GET', '/Users?count=0');
    expect(counted.status).toBe(200);
    expect(counted.body.totalResults).toBeGreaterThanOrEqual(3);
    expect(counted.body.Resources).toEqual([]);
    const past = await page('startIndex=99999999999999999999&count=99999999999');
    expect(past.status).toBe(200);
    expect(past.body).toMatchObject({ totalResults: 3, itemsPerPage: 0, Resources: [] });
  });

  it('caps a huge count at the advertised maximum and rejects non-numeric values with 400 invalidValue', async () => {
    expect((await page('count=1000000')).body.itemsPerPage).toBe(3);
    for (const query of ['startIndex=abc', 'count=1.5', 'count=1e3', 'startIndex=']) {
      const res = await api.request('GET', `/Users?${query}`);
      if (query === 'startIndex=') expect(res.status).toBe(200);
      else {
        expect(res.status, query).toBe(400);
        expect(res.body.scimType).toBe('invalidValue');
      }
    }
  });
});
