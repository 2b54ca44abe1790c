import { Redis } from 'ioredis';
import { configFromObject } from '../src/config/load.js';
import { silentLogger } from '../src/delivery/logger.js';
import { createRuntime } from '../src/runtime.js';
import { SCHEMA_ENTERPRISE_USER } from '../src/scim/types.js';
import { benchConfig } from './lib/config.js';
import { entraUserBody, entraUserPatch, userName } from './lib/entra.js';
import { startFastTarget } from './lib/fast-target.js';
import { benchPrefix, connectRedis, deleteByPrefix, outboxKey } from './lib/redis.js';
import { waitFor } from './lib/wait.js';

/**
 * Counts the Redis commands the bridge sends per SCIM operation and per delivery job, by name,
 * by wrapping ioredis' `sendCommand` in this process. Round trips are what the benchmarks find
 * expensive, so this tells where a change would pay off. Commands between MULTI and EXEC, and
 * pipelines, go out in one write. The last two lines count a write and its delivery job
 * together, one change at a time, as changes trickle in from Entra: each then also pays the
 * outbox relay's claim, queueing and clearing, and the worker's wake-up, which a burst of
 * changes shares.
 *
 *   npx tsx bench/redis-commands.ts
 */

const OPS = 200;
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const counts = new Map<string, number>();
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function countedSendCommand(this: Redis, ...args: Parameters<Redis['sendCommand']>) {
  const [command] = args;
  counts.set(command.name, (counts.get(command.name) ?? 0) + 1);
  return sendCommand.apply(this, args);
};

async function perOperation(label: string, run: () => Promise<void>): Promise<void> {
  counts.clear();
  await run();
  const perOp = [...counts.entries()].map(([name, n]) => `${name} ${Math.round((n / OPS) * 100) / 100}`);
  const total = [...counts.values()].reduce((a, b) => a + b, 0) / OPS;
  console.log(`${label.padEnd(24)} ${total.toFixed(2).padStart(6)} commands: ${perOp.join(', ')}`);
}

const prefix = benchPrefix('commands');
const target = await startFastTarget('here');
const config = configFromObject(benchConfig(prefix, [{ id: 'count', targetUrl: target.url }]).raw);
const runtime = await createRuntime(config);
const { provisioning } = runtime.connection('count');
const ids: string[] = [];
try {
  await perOperation('GET filter (miss)', async () => {
    for (let i = 0; i < OPS; i++) await provisioning.list('User', { filter: `userName eq "${userName(i)}"`, withMembers: false });
  });
  await perOperation('POST /Users', async () => {
    for (let i = 0; i < OPS; i++) ids.push((await provisioning.create('User', entraUserBody(i))).id);
  });
  await perOperation('PATCH /Users/<id>', async () => {
    for (const [i, id] of ids.entries()) await provisioning.patch('User', id, entraUserPatch(i));
  });
  await perOperation('GET /Users/<id>', async () => {
    for (const id of ids) await provisioning.get('User', id, { withMembers: false });
  });
  // The shipped path: the outbox relay queues the jobs the POSTs above left in the outbox, and
  // the worker shares the runtime's auto-pipelined connection with the store.
  await perOperation('delivery job (new user)', async () => {
    await runtime.startWorkers(silentLogger);
    if (!(await waitFor(async () => (await target.stats()).creates >= OPS, 30_000))) throw new Error(`only ${(await target.stats()).creates} of ${OPS} users reached the target`);
  });
  // With the worker running, each write below and its delivery job are counted together.
  const deliveredAfter = async (calls: number) => {
    if (!(await waitFor(async () => (await target.stats()).calls >= calls, 30_000))) throw new Error('the target did not get every call');
    await waitFor(async () => (await redis.exists(outboxKey(config, 'count'))) === 0, 5_000);
  };
  const redis = connectRedis();
  let calls = (await target.stats()).calls;
  await perOperation('PATCH + its delivery job', async () => {
    // A department the sample mapping delivers, so each job makes its update call.
    const moved = (i: number) => ({ schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: `${SCHEMA_ENTERPRISE_USER}:department`, value: `Department ${i}` }] });
    for (const [i, id] of ids.entries()) await provisioning.patch('User', id, moved(i));
    await deliveredAfter((calls += OPS));
  });
  await perOperation('PUT + its delivery job', async () => {
    // Okta's update: the whole user, here with a new displayName, which the sample mapping delivers.
    for (const [i, id] of ids.entries()) await provisioning.replace('User', id, { ...entraUserBody(i), displayName: `Replaced ${i}` });
    await deliveredAfter((calls += OPS));
  });
  await perOperation('DELETE + its delivery job', async () => {
    for (const id of ids) await provisioning.remove('User', id);
    await deliveredAfter((calls += OPS));
  });
  redis.disconnect();
  console.log('(the delivery lines include the worker and outbox relay starting and polling: a few commands in all)');
} finally {
  await runtime.close();
  await target.close();
  const redis = connectRedis();
  await deleteByPrefix(redis, prefix);
  await redis.quit();
}
