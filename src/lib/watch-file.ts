import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Calls `onChange` (debounced) when `file` changes on disk, however it is replaced. The
 * directory is watched, not the file: editors (vim), deploy tools and config management often
 * write a new file and rename it over the old one, which ends a watch on the file itself, and a
 * Kubernetes ConfigMap or Secret volume swaps a `..data` symlink next to the file (the file is a
 * symlink through it) without touching the file's own name. So an event counts when it names the
 * file, names an entry starting with `..` (the volume's AtomicWriter), or names nothing (some
 * platforms). Other files of the directory are ignored. Callers compare contents themselves, so a
 * spurious call is harmless. Throws when the directory cannot be watched.
 */

export interface FileWatch {
  close(): void;
}

export function watchFileByDirectory(file: string, onChange: () => void, debounceMs = 200): FileWatch {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(file), (_event, changed) => {
    const entry = changed === null ? null : changed.toString();
    if (entry !== null && entry !== name && !entry.startsWith('..')) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  // A watch that breaks (the directory removed) ends quietly; SIGHUP still reloads.
  watcher.on('error', () => watcher.close());
  return {
    close() {
      watcher.close();
      clearTimeout(timer);
    },
  };
}
