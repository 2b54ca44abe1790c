import type { DeliveryLogger } from '../delivery/logger.js';
import { watchFileByDirectory, type FileWatch } from '../lib/watch-file.js';

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

export function watchConfigFile(file: string, reload: () => Promise<void>, logger: DeliveryLogger): ConfigWatcher {
  let running: Promise<void> | undefined;
  let again = false;
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
  let watcher: FileWatch | undefined;
  try {
    // The directory, not the file (lib/watch-file.ts): a file replaced by rename stays watched.
    watcher = watchFileByDirectory(file, () => void run());
  } catch {
    logger.warn({ file }, 'cannot watch the config file; reload it with SIGHUP');
  }
  return {
    reloadNow: run,
    close() {
      process.off('SIGHUP', onSignal);
      watcher?.close();
    },
  };
}
