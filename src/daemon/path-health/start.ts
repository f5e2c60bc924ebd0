/**
 * Per-peer path health in the running daemon: round-trip time (last and
 * smoothed), loss over the last minute and path MTU for every peer with a
 * lease. With the gossip store the round trips are its SWIM probes'; with
 * etcd and static an echo of our own (echo-prober.ts). The path MTU is
 * measured the same way for all (mtu-prober.ts). `tulle status --peers` and
 * /metrics read it.
 *
 * Cost per peer and direction (IPv4, interval defaults): the echo, 44 bytes a
 * second and its 44-byte answer; an MTU probe of the MTU in use every 30 s
 * (1,500 bytes: 50 bytes a second) and its 44-byte answer; a search (a dozen
 * probes) only at start, when the MTU in use stops fitting, and every tenth
 * round when it is below the underlay's. Gossip sends nothing more for the
 * round trips.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LeaseStore, LeaseTable } from '../../lease/lease.js';
import { loadNative } from '../../native/load.js';
import type { DaemonConfig } from '../config/schema.js';
import type { Teardown } from '../teardown.js';
import { EchoProber } from './echo-prober.js';
import { GossipSamples, isProbingStore } from './gossip-samples.js';
import { registerPathHealthMetrics } from './metrics.js';
import { MtuProber, type MtuOptions } from './mtu-prober.js';
import { PeerTable, type PeerHealthView } from './peer-table.js';
import { ProbeSocket } from './probe-socket.js';

/** An echo unanswered this long counts as lost, ms. */
export const ECHO_TIMEOUT_MS = 1_000;
/** An MTU probe unanswered this long is tried again, ms; a size gets MTU_TRIES tries. */
const MTU_TIMEOUT_MS = 1_000;
const MTU_TRIES = 3;
/** How often the peer list follows the lease table, ms. */
const FOLLOW_MS = 1_000;

export interface PathHealth {
  views(): PeerHealthView[];
  registerMetrics(registry: Registry): void;
}

export interface PathHealthContext {
  config: DaemonConfig;
  store: LeaseStore;
  leases: LeaseTable;
  ownSubnet: string;
  underlay: { address: string; deviceMtu: number };
}

export async function startPathHealth(ctx: PathHealthContext, log: Logger, teardown: Teardown): Promise<PathHealth> {
  const settings = ctx.config.pathHealth;
  const gossip = isProbingStore(ctx.store) ? ctx.store : undefined;
  const table = new PeerTable(gossip ? 'gossip' : 'probe');
  const follow = () => table.follow(ctx.leases.list(), ctx.ownSubnet);
  follow();
  const following = setInterval(follow, FOLLOW_MS);
  following.unref();
  teardown.push('stopping path health', () => clearInterval(following));
  if (gossip) {
    gossip.observeProbes(new GossipSamples(table));
    teardown.push('ending gossip probe samples', () => gossip.observeProbes(undefined));
  }
  let socket: ProbeSocket | undefined;
  try {
    socket = await ProbeSocket.open(ctx.underlay.address, settings.port, log);
  } catch (error) {
    // A port taken by something else costs the probes, not the overlay.
    log.warn({ event: 'path probe', error: (error as Error).message }, `path health: ${(error as Error).message}; running without path probes`);
  }
  if (socket) {
    const probeSocket = socket;
    teardown.push('closing the path probe socket', () => probeSocket.close());
    const echo = gossip ? undefined : new EchoProber(socket, table, { port: settings.port, intervalMs: settings.intervalMs, timeoutMs: ECHO_TIMEOUT_MS });
    const mtu = newMtuProber(
      table,
      {
        family: socket.family,
        localAddress: ctx.underlay.address,
        port: settings.port,
        replyPort: socket.port,
        ceiling: ctx.underlay.deviceMtu,
        intervalMs: settings.mtuIntervalMs,
        timeoutMs: MTU_TIMEOUT_MS,
        tries: MTU_TRIES,
      },
      log,
    );
    socket.onAnswers({ echo: (address, seq) => echo?.answered(address, seq), mtu: (address, seq, received) => mtu?.answered(address, seq, received) });
    echo?.start();
    mtu?.start();
    teardown.push('stopping the path probes', () => {
      echo?.stop();
      mtu?.stop();
    });
  }
  return {
    views: () => table.views(Date.now()),
    registerMetrics: (registry) => registerPathHealthMetrics(registry, () => table.views(Date.now()), settings.metricsPeers),
  };
}

/** The MTU prober, or undefined (logged) when the underlay cannot have one: below the floor, or no DF socket. */
function newMtuProber(table: PeerTable, o: MtuOptions, log: Logger): MtuProber | undefined {
  try {
    return new MtuProber(loadNative(), table, o);
  } catch (error) {
    log.warn({ event: 'path probe', error: (error as Error).message }, `path health: ${(error as Error).message}; running without path MTU probes`);
    return undefined;
  }
}
