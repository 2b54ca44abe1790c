import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, redisAnswers } from '../../src/lib/redis-bootstrap.js';
import { killAllCli, type CliProcess } from '../cli/spawn-cli.js';
import { createProcessFixture, type ProcessFixture } from '../helpers/process-fixture.js';
import { seededRandom, startFaultTarget, type FaultTarget } from './fault-target.js';

/**
 * Chaos: an Entra-style feed of users, groups and memberships through a real API process, while
 * the target fails a share of its calls (500, 503, 429 + Retry-After, timeouts, dropped
 * connections, late successes), worker processes are SIGKILLed several times and the private
 * Redis (AOF, fsync always) is SIGKILLed and restarted once. At the end the target must equal
 * what Entra asked for: nothing lost, nothing duplicated, nothing stale.
 *
 * `npm test` runs the short profile; `CHAOS=full npx vitest run test/chaos` runs 2,000 users
 * (`CHAOS_SEED=<n>` replays another fault sequence). The numbers are printed either way.
 */

const FULL = process.env.CHAOS === 'full';
const PROFILE = FULL
  ? { users: 2_000, groups: 40, membersPerGroup: 120, updates: 300, deletes: 100, kills: 5, timeoutMs: 900_000 }
  : { users: 100, groups: 5, membersPerGroup: 20, updates: 20, deletes: 8, kills: 3, timeoutMs: 240_000 };
const SEED = Number(process.env.CHAOS_SEED ?? 20261201);
const SCHEMA_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SCHEMA_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const TARGET_TIMEOUT_MS = 1_000;

const MAPPING = `version: 1
users:
  fields:
    login: userName
    name: displayName
    active: active
  lookup:
    method: GET
    path: /accounts?login={fields.login}
    targetId: data[0].id
  create:
    method: POST
    path: /accounts
    targetId: id
  update:
    method: PUT
    path: /accounts/{targetId}
  delete:
    method: DELETE
    path: /accounts/{targetId}
groups:
  fields:
    name: displayName
  lookup:
    method: GET
    path: /groups?name={fields.name}
    targetId: data[0].id
  create:
    method: POST
    path: /groups
    targetId: id
  update:
    method: PUT
    path: /groups/{targetId}
  delete:
    method: DELETE
    path: /groups/{targetId}
  addMember:
    method: PUT
    path: /groups/{targetId}/members/{member.targetId}
  removeMember:
    method: DELETE
    path: /groups/{targetId}/members/{member.targetId}
`;

/** A private redis-server with AOF that can be killed and started again on the same port and data. */
async function startRestartableRedis() {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'scim-bridge-chaos-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100 && !(await redisAnswers(url, 200)); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await redisAnswers(url, 500))) throw new Error('private redis-server did not start');
  };
  const kill = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    async restart() {
      await kill();
      await start();
    },
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Desired {
  users: Map<string, { id?: string; name: string; active: boolean; deleted: boolean }>;
  groups: Map<string, { id?: string; members: Set<string> }>;
}

/** Entra's side: retries on 5xx and network errors like the provisioning service does. */
function entraClient(tenantUrl: () => string, secret: string, stats: { requests: number; retries: number }) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are read field by field
  return async function scim(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    for (let attempt = 0; attempt < 200; attempt++) {
      stats.requests += 1;
      try {
        const res = await fetch(`${tenantUrl()}${path}`, {
          method,
          headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        if (res.status < 500) return { status: res.status, body: text ? JSON.parse(text) : undefined };
      } catch {
        // The API or its Redis is down for a moment: try again.
      }
      stats.retries += 1;
      await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** Math.min(attempt, 5))));
    }
    throw new Error(`${method} ${path} kept failing`);
  };
}

let redis: Awaited<ReturnType<typeof startRestartableRedis>> | undefined;
let target: FaultTarget | undefined;
let fixture: ProcessFixture | undefined;

afterAll(async () => {
  await killAllCli();
  await fixture?.close();
  await target?.close();
  await redis?.stop();
});

describe(`chaos (${FULL ? 'full' : 'short'} profile)`, () => {
  it(
    'converges the target on exactly the desired state through target faults, worker kills and a Redis restart',
    async () => {
      const random = seededRandom(SEED);
      redis = await startRestartableRedis();
      target = await startFaultTarget({ seed: SEED, faultRate: 0.25, holdMs: TARGET_TIMEOUT_MS + 500 });
      fixture = await createProcessFixture('chaos', {
        redisUrl: redis.url,
        targetUrl: target.url,
        mapping: MAPPING,
        target: { timeoutMs: TARGET_TIMEOUT_MS },
        delivery: {
          attempts: 1_000,
          backoffMs: 100,
          maxBackoffMs: 1_000,
          concurrency: 16,
          lockDurationMs: 3_000,
          stalledIntervalMs: 1_000,
          maxStalledCount: 1_000,
          breaker: { consecutiveFailures: 25, cooldownMs: 500, maxCooldownMs: 2_000 },
        },
      });
      const f = fixture;
      const t = target;

      let tenantUrl = '';
      const api: CliProcess = f.spawn('serve', ['--no-worker']);
      tenantUrl = `${(await api.waitForLine(/^scim-bridge listening on (\S+)$/, 60_000))[1]}/acme/scim/v2`;
      const workers: CliProcess[] = [f.spawn('worker'), f.spawn('worker')];
      await Promise.all(workers.map((w) => w.waitForLine(/^scim-bridge worker delivering/, 60_000)));

      const stats = { requests: 0, retries: 0, kills: 0, redisRestarts: 0 };
      const scim = entraClient(() => tenantUrl, f.secret, stats);
      const desired: Desired = { users: new Map(), groups: new Map() };

      // Chaos monkey: kills a worker (and starts a new one) every so many target calls, and
      // restarts Redis once, halfway through the kills.
      const perKill = Math.max(40, Math.floor((PROFILE.users * 3) / (PROFILE.kills + 1)));
      let stopMonkey = false;
      const monkey = (async () => {
        while (!stopMonkey && stats.kills < PROFILE.kills) {
          if (t.calls >= perKill * (stats.kills + 1)) {
            const victim = workers.shift()!;
            victim.child.kill('SIGKILL');
            await victim.exited;
            stats.kills += 1;
            workers.push(f.spawn('worker'));
            if (stats.kills === Math.ceil(PROFILE.kills / 2) && stats.redisRestarts === 0) {
              await redis!.restart();
              stats.redisRestarts += 1;
            }
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      // Entra-style: look up by userName, create when missing; several at once.
      const userNames = Array.from({ length: PROFILE.users }, (_, i) => `chaos.user${i}@example.com`);
      async function provisionUser(userName: string) {
        const found = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
        let id = found.body?.Resources?.[0]?.id as string | undefined;
        const name = `User ${userName.split('@')[0]}`;
        if (!id) {
          const created = await scim('POST', '/Users', { schemas: [SCHEMA_USER], userName, displayName: name, active: true });
          if (created.status === 409) {
            const again = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
            id = again.body.Resources[0].id;
          } else {
            expect(created.status, JSON.stringify(created.body)).toBe(201);
            id = created.body.id;
          }
        }
        desired.users.set(userName, { id, name, active: true, deleted: false });
      }
      await pool(userNames, 8, provisionUser);

      for (let g = 0; g < PROFILE.groups; g++) {
        const displayName = `chaos-group-${g}`;
        let created = await scim('POST', '/Groups', { schemas: [SCHEMA_GROUP], displayName });
        if (created.status === 409) created = { status: 200, body: (await scim('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${displayName}"`)}`)).body.Resources[0] };
        desired.groups.set(displayName, { id: created.body.id, members: new Set() });
      }
      // Memberships in Entra's batches of a few members per PATCH.
      const groupTasks: Array<() => Promise<void>> = [];
      for (const [name, group] of desired.groups) {
        const members = pick(userNames, PROFILE.membersPerGroup, random);
        for (let i = 0; i < members.length; i += 5) {
          const batch = members.slice(i, i + 5);
          groupTasks.push(async () => {
            const res = await scim('PATCH', `/Groups/${group.id}`, {
              schemas: [PATCH_OP],
              Operations: [{ op: 'Add', path: 'members', value: batch.map((u) => ({ value: desired.users.get(u)!.id })) }],
            });
            expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
            for (const u of batch) group.members.add(u);
          });
        }
      }
      await pool(groupTasks, 6, (task) => task());

      // Later changes: renames and disables (stale if lost), removals from a group, deletes.
      for (const userName of pick(userNames, PROFILE.updates, random)) {
        const user = desired.users.get(userName)!;
        const name = `${user.name} (renamed)`;
        const active = random() < 0.5;
        const res = await scim('PATCH', `/Users/${user.id}`, {
          schemas: [PATCH_OP],
          Operations: [
            { op: 'Replace', path: 'displayName', value: name },
            { op: 'Replace', path: 'active', value: active ? 'True' : 'False' },
          ],
        });
        expect(res.status).toBe(200);
        Object.assign(user, { name, active });
      }
      const [firstGroupName, firstGroup] = [...desired.groups][0]!;
      for (const userName of [...firstGroup.members].slice(0, 5)) {
        const res = await scim('PATCH', `/Groups/${firstGroup.id}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'Remove', path: `members[value eq "${desired.users.get(userName)!.id}"]` }],
        });
        expect(res.status, firstGroupName).toBeLessThan(300);
        firstGroup.members.delete(userName);
      }
      for (const userName of pick(userNames, PROFILE.deletes, random)) {
        const user = desired.users.get(userName)!;
        const res = await scim('DELETE', `/Users/${user.id}`);
        expect([204, 404]).toContain(res.status);
        user.deleted = true;
        for (const group of desired.groups.values()) group.members.delete(userName);
      }
      const provisioned = Date.now();

      // Converge: the target must come to equal the desired state, faults and all.
      const deadline = provisioned + PROFILE.timeoutMs - 60_000;
      let diff = compare(desired, t);
      while (diff.problems > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        diff = compare(desired, t);
      }
      stopMonkey = true;
      await monkey;
      const convergedMs = Date.now() - provisioned;
      const counts = await f.queue.queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed');

      process.stdout.write(
        `\nchaos (${FULL ? 'full' : 'short'}, seed ${SEED}): ${PROFILE.users} users, ${PROFILE.groups} groups, ` +
          `${[...desired.groups.values()].reduce((n, g) => n + g.members.size, 0)} memberships\n` +
          `  target calls ${t.calls}, faults ${JSON.stringify(t.faults)} (${Object.values(t.faults).reduce((a, b) => a + b, 0)} in all)\n` +
          `  worker SIGKILLs ${stats.kills}, Redis restarts ${stats.redisRestarts}, SCIM requests ${stats.requests} (retried ${stats.retries})\n` +
          `  jobs ${JSON.stringify(counts)}\n` +
          `  converged ${diff.problems === 0 ? 'in' : 'NOT within'} ${(convergedMs / 1000).toFixed(1)} s after the last SCIM write: ` +
          `lost ${diff.lost}, duplicated ${diff.duplicated}, stale ${diff.stale}, unexpected ${diff.unexpected}\n`,
      );

      expect(stats.kills).toBe(PROFILE.kills);
      expect(stats.redisRestarts).toBe(1);
      expect(diff.details.slice(0, 10)).toEqual([]);
      expect(diff).toMatchObject({ lost: 0, duplicated: 0, stale: 0, unexpected: 0 });
      expect(counts.failed).toBe(0);
      await Promise.all([api, ...workers].map((p) => p.stop('SIGTERM', 30_000)));
    },
    PROFILE.timeoutMs,
  );
});

/** What differs between the desired state and the target. */
function compare(desired: Desired, target: FaultTarget) {
  const details: string[] = [];
  let lost = 0;
  let duplicated = 0;
  let stale = 0;
  let unexpected = 0;
  const byLogin = new Map<string, string[]>();
  for (const account of target.accounts.values()) byLogin.set(account.login, [...(byLogin.get(account.login) ?? []), account.id]);
  const loginOf = new Map([...target.accounts.values()].map((a) => [a.id, a.login]));
  for (const [userName, user] of desired.users) {
    const ids = byLogin.get(userName) ?? [];
    if (user.deleted) {
      if (ids.length > 0) {
        unexpected += 1;
        details.push(`${userName} deleted but still in the target`);
      }
      continue;
    }
    if (ids.length === 0) {
      lost += 1;
      details.push(`${userName} missing`);
    }
    if (ids.length > 1) {
      duplicated += 1;
      details.push(`${userName} ${ids.length} times`);
    }
    const account = ids[0] ? target.accounts.get(ids[0]) : undefined;
    if (account && (account.name !== user.name || account.active !== user.active)) {
      stale += 1;
      details.push(`${userName} holds ${account.name}/${account.active}, wants ${user.name}/${user.active}`);
    }
  }
  for (const login of byLogin.keys()) {
    if (!desired.users.has(login)) {
      unexpected += 1;
      details.push(`unknown account ${login}`);
    }
  }
  const groupsByName = new Map<string, Array<{ members: Set<string> }>>();
  for (const group of target.groups.values()) groupsByName.set(group.name, [...(groupsByName.get(group.name) ?? []), group]);
  for (const [name, group] of desired.groups) {
    const found = groupsByName.get(name) ?? [];
    if (found.length === 0) {
      lost += 1;
      details.push(`group ${name} missing`);
    }
    if (found.length > 1) {
      duplicated += 1;
      details.push(`group ${name} ${found.length} times`);
    }
    if (found[0]) {
      const actual = new Set([...found[0].members].map((id) => loginOf.get(id) ?? id));
      const missing = [...group.members].filter((m) => !actual.has(m));
      const extra = [...actual].filter((m) => !group.members.has(m));
      lost += missing.length;
      stale += extra.length;
      if (missing.length + extra.length > 0) details.push(`group ${name}: missing ${missing.length}, extra ${extra.length}`);
    }
  }
  return { lost, duplicated, stale, unexpected, problems: lost + duplicated + stale + unexpected, details };
}

/** Runs `work` over `items`, `size` at a time. */
async function pool<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function pick<T>(items: T[], count: number, random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, count);
}
