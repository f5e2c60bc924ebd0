/**
 * Start-up steps 1 and 2 (run.ts): the lease store opened and its network
 * read, the own lease kept in the state dir once granted, and the store's
 * first batch of leases. Each change is recorded in the teardown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LeaseTable, type NetworkConfig } from '../lease/lease.js';
import type { HostState } from '../lease/state-file.js';
import type { DaemonConfig } from './config/schema.js';
import { checkAdjacent } from './host-gw.js';
import { LeaseFeed } from './lease-feed.js';
import { planRoutes } from './lease-routes.js';
import { openStore, type OpenedStore, type StoreContext } from './open-store.js';
import type { HostPlan } from './start-plan.js';
import { SUBNET_FILE } from './state-dir.js';
import type { Teardown } from './teardown.js';
import { Stopped, untilStopped } from './until-stopped.js';

/** How long to wait for a store's first batch of leases before starting with none. */
const FIRST_BATCH_MS = 10_000;

export async function openLeaseStore(
  config: DaemonConfig,
  ctx: StoreContext,
  teardown: Teardown,
  stopped: Promise<string>,
): Promise<{ opened: OpenedStore; network: NetworkConfig }> {
  const opened = await untilStopped(openStore(config, ctx), stopped);
  // A gossip host that leaves gives its lease back (its state dir still asks for the subnet next time);
  // with etcd the lease stays until its TTL, as flannel's does, so a restart finds it.
  teardown.push('closing the lease store', () => opened.store.close({ release: config.store.type === 'gossip' }));
  return { opened, network: await untilStopped(opened.store.networkConfig(), stopped) };
}

/**
 * The subnet file's text when the state dir keeps no lease: on a host that ran flanneld until now
 * (`subnetFile` naming flannel's subnet.env) it names the subnet flanneld had. Undefined when there is none.
 */
export function subnetEnvLeftBehind(config: DaemonConfig, stateDir: string, saved: unknown): string | undefined {
  if (saved !== undefined) return undefined;
  try {
    return readFileSync(config.subnetFile ?? join(stateDir, SUBNET_FILE), 'utf8');
  } catch {
    return undefined; // none yet: a new host
  }
}

/** The granted lease saved in the state dir, so that the next run asks for the same subnet and VTEP MAC. */
export function keepLease(state: HostState, plan: HostPlan, description: string, log: Logger): void {
  state.saveLease(plan.saved);
  const previous = plan.previous;
  log.info(
    { event: 'lease acquired', subnet: plan.subnet, previous: previous?.subnet, store: description },
    `lease ${plan.subnet} from the ${description} store${
      previous?.subnet === plan.subnet
        ? ' (kept from the last run)'
        : plan.attrs.previousSubnet === plan.subnet
          ? ` (the one ${plan.outputs.subnetFile} named)`
          : ''
    }`,
  );
}

/** The store's first batch of leases, held for the router; later batches go straight to it. */
export async function firstLeases(opened: OpenedStore, plan: HostPlan, log: Logger, teardown: Teardown, stopped: Promise<string>): Promise<LeaseFeed> {
  const feed = new LeaseFeed(opened.store);
  teardown.push('watching leases', () => feed.close());
  const first = await feed.firstBatch(FIRST_BATCH_MS, stopped);
  if (first === 'stop') throw new Stopped(await stopped);
  if (first === 'timeout')
    log.warn(
      { event: 'no leases yet', store: opened.description },
      `the ${opened.description} store sent no leases within ${FIRST_BATCH_MS / 1000} s; starting with none`,
    );
  if (plan.checkAdjacentPeers) {
    const table = new LeaseTable();
    table.apply(feed.pending);
    checkAdjacent(planRoutes(table.list(), { ...plan.routes, now: Date.now() }).targets);
  }
  return feed;
}
