import type { DeliveryLogger } from '../delivery/logger.js';
import { watchFileByDirectory, type FileWatch } from '../lib/watch-file.js';
import { MappingLoadError } from './errors.js';
import type { ReloadablePlan } from './reloadable.js';

/**
 * Hot reload of mapping files: on SIGHUP, and when a file changes on disk (debounced, since
 * editors write in several steps), every connection's mapping is read again. The file's
 * directory is watched (lib/watch-file.ts), so a file replaced by rename (vim, deploy tools, a
 * Kubernetes ConfigMap's symlink swap) stays watched. A valid new
 * version applies to the jobs that start after it (logged with its version); an invalid one is
 * logged with each `file:line:col` problem (GW_MAP_INVALID) and the running version stays.
 */

export interface WatchedMapping {
  connectionId: string;
  plan: ReloadablePlan;
}

export interface MappingWatcher {
  /** Reloads every mapping now (what SIGHUP does); resolves when done. */
  reloadAll(): Promise<void>;
  /** Watches the current file of every mapping (after a config reload named other files). */
  refresh(): void;
  close(): void;
}

export function watchMappings(mappings: WatchedMapping[], logger: DeliveryLogger): MappingWatcher {
  const reload = async ({ connectionId, plan }: WatchedMapping): Promise<void> => {
    try {
      const { changed, version } = await plan.reload();
      if (changed) logger.info({ connectionId, file: plan.file, mapping: version }, 'mapping reloaded: new jobs use this version');
    } catch (error) {
      if (!(error instanceof MappingLoadError)) throw error;
      logger.error(
        { connectionId, file: plan.file, code: 'GW_MAP_INVALID', mapping: plan.version, issues: error.message.split('\n') },
        'mapping not reloaded: the new version is invalid, the running one stays',
      );
    }
  };
  const reloadAll = async () => {
    for (const mapping of mappings) await reload(mapping);
  };
  const onSignal = () => void reloadAll();
  process.on('SIGHUP', onSignal);

  const watchers = new Map<string, { file: string; watcher?: FileWatch }>();
  const watchOne = (mapping: WatchedMapping) => {
    const file = mapping.plan.file;
    try {
      const watcher = watchFileByDirectory(file, () => void reload(mapping));
      watchers.set(mapping.connectionId, { file, watcher });
    } catch {
      // A file that cannot be watched (some network file systems) still reloads on SIGHUP.
      watchers.set(mapping.connectionId, { file });
      logger.warn({ connectionId: mapping.connectionId, file }, 'cannot watch the mapping file; reload it with SIGHUP');
    }
  };
  for (const mapping of mappings) watchOne(mapping);
  return {
    reloadAll,
    refresh() {
      for (const mapping of mappings) {
        const watched = watchers.get(mapping.connectionId);
        if (watched?.file === mapping.plan.file) continue;
        watched?.watcher?.close();
        watchOne(mapping);
      }
    },
    close() {
      process.off('SIGHUP', onSignal);
      for (const { watcher } of watchers.values()) watcher?.close();
    },
  };
}
