#!/usr/bin/env node
import { constants as fsConstants, realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBridge } from '../bridge.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { BridgeError } from '../lib/errors.js';
import { runDemo } from './demo.js';
import { runDryRun } from './dry-run.js';
import { runExplain } from './explain.js';
import { runInit } from './init.js';
import { runRedeliver } from './redeliver.js';
import { runReconcile } from './reconcile.js';
import { runHealthcheck } from './healthcheck.js';
import { runHashPassword } from './hash-password.js';
import { runSecrets } from './secrets.js';
import { OPS_USAGE, runOpsCommand } from './ops-commands.js';
import { runValidate } from './validate.js';

/**
 * The `scim-bridge` command. `main()` takes argv and an io object so tests call it in process;
 * exit codes: 0 ok, 1 invalid input (config, mapping), 2 usage or I/O.
 */

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

const USAGE = `Usage: scim-bridge <command> [options]

Commands:
  serve   [--config FILE] [--no-worker]   run the SCIM API (and, by default, the delivery workers)
  worker  [--config FILE]                 run delivery workers only (scale them apart from the API)
  validate <mapping.yaml|dir>...          check mapping files; prints file:line:col messages
  validate --config FILE                  check a config file and every mapping it names
  dry-run (--mapping FILE | --config FILE [--connection ID]) --request FILE [--state FILE] [--groups "A,B"]
                                          print the HTTP calls a SCIM request would cause (no network)
  explain <mapping.yaml>                  which SCIM attribute feeds each field, which calls each change causes
  init [FILE | -]                         write a commented starter mapping (default mappings/my-app.yaml)
  redeliver <connection> [--config FILE]  queue a delivery of every user and group (after a mapping change)
  reconcile <connection> [--config FILE] [--dry-run] [--json]
                                          compare the target with the bridge (mapping list rules),
                                          re-deliver what drifted, report orphans
${OPS_USAGE}
  demo                                    start the bridge in front of the bundled sample legacy API
  healthcheck [--url URL]                 exit 0 when the bridge's /readyz answers 2xx (container probes)
  hash-password [--token] < secret        print the hash for admin.passwordHash (or admin.tokenHashes)
  secrets create|rotate|revoke|list <connection> [--kind bearer|client] [--config FILE]
                                          manage a connection's SCIM secrets and OAuth clients in Redis

The config file defaults to $SCIM_BRIDGE_CONFIG, then config/default.yaml.
`;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
    case 'worker':
      return serve(command, rest, io);
    case 'validate':
      return validate(rest, io);
    case 'dry-run':
      return runDryRun(rest, io);
    case 'explain':
      return runExplain(rest, io);
    case 'init':
      return runInit(rest, io);
    case 'redeliver':
      return runRedeliver(rest, io);
    case 'reconcile':
      return runReconcile(rest, io, reportError);
    case 'demo':
      return runDemo(rest, io);
    case 'healthcheck':
      return runHealthcheck(rest, io);
    case 'hash-password':
      return runHashPassword(rest, io);
    case 'secrets':
      return runSecrets(rest, io);
    case 'status':
    case 'jobs':
    case 'trace':
      return runOpsCommand(command, rest, io).catch((err: unknown) => reportError(err, io));
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.stderr(`scim-bridge: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function serve(command: 'serve' | 'worker', args: string[], io: Io): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { config: { type: 'string' }, 'no-worker': { type: 'boolean' } }, strict: true }));
  } catch (err) {
    io.stderr(`scim-bridge ${command}: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const file = values.config ?? process.env.SCIM_BRIDGE_CONFIG ?? 'config/default.yaml';
  if (!(await readable(file, io))) return 2;
  try {
    const config = await loadConfig(file);
    const bridge = await startBridge(config, { api: command === 'serve', worker: command === 'worker' || !values['no-worker'] });
    if (bridge.url) {
      io.stdout(`scim-bridge listening on ${bridge.url}\n`);
      for (const c of config.connections) io.stdout(`connection ${c.id}: ${config.publicUrl ?? bridge.url}${c.basePath}\n`);
      if (config.admin) io.stdout(`dashboard: ${config.publicUrl ?? bridge.url}/admin/queues\n`);
    } else {
      io.stdout(`scim-bridge worker delivering for ${config.connections.map((c) => c.id).join(', ')}\n`);
    }
    if (bridge.opsUrl) io.stdout(`metrics and health: ${bridge.opsUrl}/metrics, /livez, /readyz\n`);
    await untilSignal();
    io.stdout(`scim-bridge shutting down: running deliveries get up to ${config.shutdown.graceMs} ms (shutdown.graceMs); a second signal exits at once\n`);
    await bridge.close();
    return 0;
  } catch (err) {
    return reportError(err, io);
  }
}

async function validate(args: string[], io: Io): Promise<number> {
  if (args[0] === '--config') {
    const file = args[1];
    if (!file) {
      io.stderr('scim-bridge validate --config needs a file\n');
      return 2;
    }
    if (!(await readable(file, io))) return 2;
    try {
      const config = await loadConfig(file);
      io.stdout(`ok ${file}\n`);
      return runValidate([...new Set(config.connections.flatMap((c) => (c.mappingPath === undefined ? [] : [c.mappingPath])))], io);
    } catch (err) {
      return reportError(err, io);
    }
  }
  return runValidate(args, io);
}

/** A config file that cannot be read is an I/O error (exit 2), not an invalid config (exit 1). */
async function readable(file: string, io: Io): Promise<boolean> {
  try {
    await access(file, fsConstants.R_OK);
    return true;
  } catch (err) {
    io.stderr(`scim-bridge: cannot read the config file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})\n`);
    return false;
  }
}

export function reportError(err: unknown, io: Io): number {
  if (err instanceof ConfigError || err instanceof BridgeError) {
    io.stderr(`${err.code}\n${err.message}\n`);
    return 1;
  }
  io.stderr(`scim-bridge: ${err instanceof Error ? err.message : String(err)}\n`);
  return 2;
}

/**
 * Resolves on the first SIGINT or SIGTERM, which starts the graceful shutdown (running deliveries
 * get `shutdown.graceMs`). A second signal during the shutdown exits at once, with 128 + the
 * signal number; jobs still running are then taken over by other workers as stalled jobs.
 */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      const now = (signal: NodeJS.Signals) => process.exit(128 + (constants.signals[signal] ?? 0));
      process.once('SIGINT', now);
      process.once('SIGTERM', now);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`scim-bridge: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
