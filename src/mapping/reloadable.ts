import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MappingLoadError } from './errors.js';
import { loadMappingSource } from './load.js';
import type { MappingPlan } from './types.js';

/**
 * A mapping that can be replaced while the bridge runs (SIGHUP, file watch). A valid new version
 * applies to jobs that start after it; an invalid one is refused with its errors and the old one
 * stays. Every job takes `current()` once, so a job never mixes two versions, and records the
 * version it ran with.
 */

export interface VersionedPlan extends MappingPlan {
  /** First 12 hex digits of the SHA-256 of the file's text. */
  readonly version: string;
}

export interface ReloadablePlan extends VersionedPlan {
  /** The mapping as it is now. */
  current(): VersionedPlan;
  /** Reads the file again; `changed` is false when its text is the same. Throws MappingLoadError when invalid (the old version stays). */
  reload(): Promise<{ changed: boolean; version: string }>;
  /** Runs `next` from now on, and reloads its file from then on (the config named another mapping file). */
  replace(next: VersionedPlan): void;
}

export async function loadReloadableMapping(file: string): Promise<ReloadablePlan> {
  let active = await loadVersionedMapping(file);
  const delegate = <K extends keyof MappingPlan>(key: K) => ((...args: unknown[]) => (active[key] as (...a: unknown[]) => unknown)(...args)) as MappingPlan[K];
  return {
    get name() {
      return active.name;
    },
    get file() {
      return active.file;
    },
    get version() {
      return active.version;
    },
    supports: delegate('supports'),
    has: delegate('has'),
    plan: delegate('plan'),
    callCount: delegate('callCount'),
    planCall: delegate('planCall'),
    fields: delegate('fields'),
    references: delegate('references'),
    usesGroups: delegate('usesGroups'),
    usesPrevious: delegate('usesPrevious'),
    memberLimits: delegate('memberLimits'),
    check: delegate('check'),
    listRule: (type) => active.listRule?.(type),
    current: () => active,
    async reload() {
      const from = active.file;
      const next = await loadVersionedMapping(from);
      // The config switched to another file meanwhile: this read is out of date.
      if (active.file !== from) return { changed: false, version: active.version };
      const changed = next.version !== active.version;
      active = next;
      return { changed, version: next.version };
    },
    replace(next) {
      active = next;
    },
  };
}

/** Reads and loads a mapping file with its version; throws MappingLoadError when invalid. */
export async function loadVersionedMapping(file: string): Promise<VersionedPlan> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new MappingLoadError([{ file, line: 0, col: 0, path: '', message: `cannot read the mapping file (${code}); check the path` }]);
  }
  const plan = loadMappingSource(source, file);
  return Object.assign(plan, { version: createHash('sha256').update(source).digest('hex').slice(0, 12) });
}
