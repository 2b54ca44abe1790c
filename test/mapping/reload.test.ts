import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createProcessor } from '../../src/delivery/processor.js';
import { MappingLoadError } from '../../src/mapping/errors.js';
import { loadReloadableMapping } from '../../src/mapping/reloadable.js';
import { watchMappings } from '../../src/mapping/watch.js';
import { createFakeClient, createMemoryLock, createMemoryStore } from '../delivery/fakes.js';

/** Hot reload: a valid new mapping applies to new jobs, an invalid one is refused and logged. */

const mapping = (field: string) =>
  ['version: 1', 'users:', '  fields:', `    ${field}: userName`, '  create: { method: POST, path: /users, targetId: id }', ''].join('\n');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-bridge-reload-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const logger = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

describe('hot reload of mappings', () => {
  it('applies a valid version to the next job (which records it) and keeps the old one when the new is invalid', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, mapping('login'));
    const plan = await loadReloadableMapping(file);
    const first = plan.version;
    expect(first).toMatch(/^[0-9a-f]{12}$/);

    const store = createMemoryStore();
    const client = createFakeClient();
    const bodies: unknown[] = [];
    const send = client.send.bind(client);
    client.send = async (spec) => (bodies.push(spec.body), send(spec));
    const processor = createProcessor({ connectionId: 'c', store, plan, client, lock: createMemoryLock(), enqueue: async () => {}, rateLimit: async () => {} });
    const job = (id: string) => ({ id, data: { connectionId: 'c', type: 'User' as const, id, revision: 1 }, moveToDelayed: vi.fn() });

    store.put('User', { id: 'u1', userName: 'ann' });
    expect(await processor(job('u1'))).toMatchObject({ outcome: 'converged', mapping: first });

    await writeFile(file, mapping('email'));
    expect(await plan.reload()).toEqual({ changed: true, version: expect.not.stringMatching(first) });
    store.put('User', { id: 'u2', userName: 'bob' });
    expect(await processor(job('u2'))).toMatchObject({ mapping: plan.version });
    expect(bodies).toEqual([{ login: 'ann' }, { email: 'bob' }]);

    const good = plan.version;
    await writeFile(file, 'version: 1\nusers:\n  fields: { x: "{" }\n');
    await expect(plan.reload()).rejects.toBeInstanceOf(MappingLoadError);
    expect(plan.version).toBe(good);
    expect(await plan.fields('User', { id: 'u', schemas: [], meta: { resourceType: 'User', created: '', lastModified: '' }, userName: 'z' })).toEqual({ email: 'z' });
  });

  it('reloads on SIGHUP and on a file change, logging the errors of an invalid version', async () => {
    const file = join(dir, 'b.yaml');
    await writeFile(file, mapping('login'));
    const plan = await loadReloadableMapping(file);
    const log = logger();
    const watcher = watchMappings([{ connectionId: 'c', plan }], log);
    try {
      await writeFile(file, 'version: 1\nusers:\n  create: { method: POST, path: /a }\n');
      await watcher.reloadAll();
      expect(log.error).toHaveBeenCalledWith(
        expect.objectContaining({ connectionId: 'c', code: 'GW_MAP_INVALID', issues: [expect.stringContaining('`targetId` is required')] }),
        expect.stringContaining('the running one stays'),
      );
      const before = plan.version;
      await writeFile(file, mapping('handle'));
      process.emit('SIGHUP', 'SIGHUP');
      // Bounded wait for the reload (signal or file watch, whichever comes first).
      for (let i = 0; i < 100 && plan.version === before; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(plan.version).not.toBe(before);
      expect(log.info).toHaveBeenCalledWith(expect.objectContaining({ mapping: plan.version }), expect.stringContaining('new jobs use this version'));
    } finally {
      watcher.close();
    }
  });

  it('keeps watching a file replaced by rename (a temp file moved over it), twice', async () => {
    const file = join(dir, 'renamed.yaml');
    await writeFile(file, mapping('login'));
    const plan = await loadReloadableMapping(file);
    const log = logger();
    const watcher = watchMappings([{ connectionId: 'c', plan }], log);
    const seen = [plan.version];
    try {
      for (const [n, field] of [[1, 'email'], [2, 'handle']] as const) {
        const temp = join(dir, `.renamed.yaml.${n}.tmp`);
        await writeFile(temp, mapping(field));
        await rename(temp, file);
        // Bounded wait for the file watch (no SIGHUP here).
        for (let i = 0; i < 100 && plan.version === seen.at(-1); i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(plan.version).not.toBe(seen.at(-1));
        seen.push(plan.version);
        const user = { id: 'u', schemas: [], meta: { resourceType: 'User' as const, created: '', lastModified: '' }, userName: 'z' };
        expect(await plan.fields('User', user)).toEqual({ [field]: 'z' });
      }
      expect(log.info).toHaveBeenCalledTimes(2);
      expect(log.error).not.toHaveBeenCalled();
    } finally {
      watcher.close();
    }
  });

  it('follows a Kubernetes ConfigMap update (the ..data symlink swapped, the file name untouched)', async () => {
    // The volume layout: mapping.yaml -> ..data/mapping.yaml, ..data -> ..<timestamp>/
    const volume = join(dir, 'configmap');
    await mkdir(join(volume, '..v1'), { recursive: true });
    await writeFile(join(volume, '..v1', 'mapping.yaml'), mapping('login'));
    await symlink('..v1', join(volume, '..data'));
    await symlink(join('..data', 'mapping.yaml'), join(volume, 'mapping.yaml'));
    const file = join(volume, 'mapping.yaml');
    const plan = await loadReloadableMapping(file);
    const watcher = watchMappings([{ connectionId: 'c', plan }], logger());
    try {
      for (const [version, field] of [['..v2', 'email'], ['..v3', 'handle']] as const) {
        const before = plan.version;
        await mkdir(join(volume, version));
        await writeFile(join(volume, version, 'mapping.yaml'), mapping(field));
        await symlink(version, join(volume, '..data_tmp'));
        await rename(join(volume, '..data_tmp'), join(volume, '..data'));
        for (let i = 0; i < 100 && plan.version === before; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(plan.version).not.toBe(before);
        const user = { id: 'u', schemas: [], meta: { resourceType: 'User' as const, created: '', lastModified: '' }, userName: 'z' };
        expect(await plan.fields('User', user)).toEqual({ [field]: 'z' });
      }
    } finally {
      watcher.close();
    }
  });
});
