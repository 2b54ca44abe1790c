import { mergeReloadable, type ConfigChange } from './reload.js';
import type { BridgeConfig, ConnectionConfig } from './schema.js';

/**
 * The one accessor of the configuration while the bridge runs. Parts a reload may change
 * (config/reload.ts) are read through it, at the moment they are used (a call's target, a new
 * job's options, a request's credentials), never copied at start. `apply` takes a valid new
 * config, keeps only what can change without a restart, and tells the listeners.
 */

export interface LiveConfig {
  /** The configuration in effect. */
  current(): BridgeConfig;
  /** One connection's configuration in effect. */
  connection(id: string): ConnectionConfig;
  /**
   * Merges a valid new config (its reloadable settings only), then runs the listeners, which
   * bring the running parts up to date. Resolves with what was applied and what needs a restart.
   */
  apply(next: BridgeConfig): Promise<ConfigChange>;
  /** Runs for every applied change that changed something, in order. */
  onChange(listener: (change: ConfigChange, previous: BridgeConfig) => Promise<void> | void): void;
}

export function createLiveConfig(initial: BridgeConfig): LiveConfig {
  let config = initial;
  let byId = indexOf(config);
  const listeners: Array<(change: ConfigChange, previous: BridgeConfig) => Promise<void> | void> = [];
  return {
    current: () => config,
    connection(id) {
      const found = byId.get(id);
      if (!found) throw new Error(`unknown connection ${id}`);
      return found;
    },
    async apply(next) {
      const change = mergeReloadable(config, next);
      if (change.applied.length === 0) return change;
      const previous = config;
      config = change.config;
      byId = indexOf(config);
      for (const listener of listeners) await listener(change, previous);
      return change;
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}

function indexOf(config: BridgeConfig): Map<string, ConnectionConfig> {
  return new Map(config.connections.map((c) => [c.id, c]));
}
