import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { DeliveryLogger } from '../delivery/logger.js';

/**
 * Hot reload of the config file: on SIGHUP and when the file changes on disk (debounced, since
 * editors write in several steps), `reload` runs; runs never overlap (a change during a run
 * causes one more run after it). What a reload does and logs is the runtime's business
 * (runtime.ts `reloadConfig`); this only decides when.
 */

export interface ConfigWatcher {
  /** Runs a reload now (what SIGHUP does); resolves when it is done. */
  reloadNow(): Promise<void>;
  close(): void;
}

const DEBOUNCE_MS = 200;

export function watchConfigFile(file: string, reload: () => Promise<void>, logger: DeliveryLogger): ConfigWatcher {
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const run = async (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await reload();
        } catch (error) {
          logger.error({ file, err: error instanceof Error ? error.message : String(error) }, 'config reload failed, the running config stays');
        }
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = undefined;
    }
  };
  const onSignal = () => void run();
  process.on('SIGHUP', onSignal);
  let watcher: FSWatcher | undefined;
  try {
    // The directory, not the file: editors and config management often replace the file (write
    // a new one, rename it over the old), which ends a watch on the file itself.
    const name = basename(file);
    watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(() => void run(), DEBOUNCE_MS);
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    logger.warn({ file }, 'cannot watch the config file; reload it with SIGHUP');
  }
  return {
    reloadNow: run,
    close() {
      process.off('SIGHUP', onSignal);
      watcher?.close();
      clearTimeout(timer);
    },
  };
}
