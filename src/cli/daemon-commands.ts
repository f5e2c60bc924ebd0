/**
 * `tulle status` and `tulle leases`: ask the running daemon over its control
 * socket (<stateDir>/tulle.sock) and print a table, or the JSON as it came
 * with --json. The state dir is --state-dir, else the one a configuration
 * file names (-c), else TULLE_STATE_DIR, else the default (state-dir.ts).
 */
import type { Command } from 'commander';
import { controlRequest, NotRunningError } from '../daemon/control-client.js';
import type { Method } from '../daemon/control-protocol.js';
import { ConfigError, formatProblem } from '../daemon/config/problems.js';
import { defaultStateDir, socketPath } from '../daemon/state-dir.js';
import type { LeaseView, StatusView } from '../daemon/status-view.js';
import { EXIT } from './exit-codes.js';
import { formatLeases, formatStatus } from './format.js';
import { formatPeers } from './format-peers.js';
import type { PeerHealthView } from '../daemon/path-health/peer-table.js';
import { exitOnConfigError } from './run-command.js';

interface Options {
  json?: boolean;
  peers?: boolean;
  stateDir?: string;
  config?: string;
}

async function stateDirOf(options: Options): Promise<string> {
  if (options.stateDir) return options.stateDir;
  const file = options.config ?? (process.env.TULLE_CONFIG || undefined);
  if (file !== undefined) {
    // The parser (yaml) loads only when a file is named, not at every start.
    const { fileLayer } = await import('../daemon/config/sources.js');
    const layer = fileLayer(file);
    if (layer.problems.length > 0) exitOnConfigError(new ConfigError(layer.problems.map((p) => formatProblem(p, layer.origins))));
    if (typeof layer.value.stateDir === 'string') return layer.value.stateDir;
  }
  return process.env.TULLE_STATE_DIR || defaultStateDir();
}

async function ask(method: Method, options: Options): Promise<unknown> {
  try {
    return await controlRequest(socketPath(await stateDirOf(options)), method);
  } catch (error) {
    console.error(`tulle: ${(error as Error).message}`);
    process.exit(error instanceof NotRunningError ? EXIT.NOT_RUNNING : EXIT.FAILURE);
  }
}

function addCommon(command: Command): Command {
  return command
    .option('--json', 'print JSON instead of a table')
    .option(
      '--state-dir <dir>',
      "the daemon's state dir (default: the one -c names, else TULLE_STATE_DIR, else /run/tulle, or /run/tulle/netns-<inode> in another network namespace)",
    )
    .option('-c, --config <file>', 'take the state dir from this configuration file');
}

export function registerDaemonCommands(program: Command): void {
  addCommon(program.command('status').description('show the running daemon: lease, backend, device, peers, counters (exit 3 when none runs)'))
    .option('--peers', "each peer's path health instead: round-trip time, loss over the last minute, path MTU")
    .action(async (options: Options) => {
      if (options.peers) {
        const peers = (await ask('peers', options)) as PeerHealthView[];
        console.log(options.json ? JSON.stringify(peers, null, 2) : formatPeers(peers));
        return;
      }
      const status = (await ask('status', options)) as StatusView;
      console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    });
  addCommon(program.command('leases').description('list the leases the running daemon knows and whether each is routed (exit 3 when none runs)')).action(
    async (options: Options) => {
      const leases = (await ask('leases', options)) as LeaseView[];
      console.log(options.json ? JSON.stringify(leases, null, 2) : formatLeases(leases));
    },
  );
}
