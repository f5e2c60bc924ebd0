// Two engines in one process, joined by a memory network: each host is a memory TUN, a memory bind,
// its own routes and counters, and the duplex loop the worker runs (src/engine/thread-loop.ts).
import * as wire from '@tulle/wire';
import { ManualClock } from '../../src/engine/clock.js';
import { Control } from '../../src/engine/control.js';
import { COUNTERS, C, type CounterValues } from '../../src/engine/counters.js';
import type { Loop } from '../../src/engine/loops.js';
import { MemoryNetwork, type MemoryBind, type MemoryNetworkOptions } from '../../src/engine/memory-network.js';
import { MemoryTun } from '../../src/engine/memory-tun.js';
import { RouteReader, RouteSnapshot } from '../../src/engine/routes.js';
import { buildLoop } from '../../src/engine/thread-loop.js';
import { TokenBucket } from '../../src/engine/token-bucket.js';
import { parseCidr4, prefixMask } from '../../src/util/cidr.js';

export type Backend = 'udp' | 'vxlan';

export const MTU = 1400;
const HEADROOM = 128;
const STRIDE = HEADROOM + 4096;
const VNI = 7;

export interface MemoryHost {
  name: string;
  /** Own overlay address (the subnet's first), as a number. */
  overlay: number;
  tun: MemoryTun;
  bind: MemoryBind;
  loop: Loop;
  counters: Float64Array;
  snapshot: RouteSnapshot;
  /** Times the loop gave up its core (ThreadParts.yieldCore). */
  yields: number;
}

export interface MemoryPair {
  clock: ManualClock;
  network: MemoryNetwork;
  a: MemoryHost;
  b: MemoryHost;
  /** Runs both loops until neither has work (bounded). Returns the rounds taken. */
  settle(): number;
}

interface HostSpec {
  name: string;
  underlay: string;
  subnet: string;
  mac: string;
}

const SPECS: [HostSpec, HostSpec] = [
  { name: 'a', underlay: '192.0.2.1', subnet: '198.18.1.0/24', mac: '02:00:00:00:00:01' },
  { name: 'b', underlay: '192.0.2.2', subnet: '198.18.2.0/24', mac: '02:00:00:00:00:02' },
];

export function counterValues(counters: Float64Array): CounterValues {
  return Object.fromEntries(COUNTERS.map((name, i) => [name, counters[i]])) as CounterValues;
}

/** Two hosts, a and b, each routing the other's subnet to it over `backend`. */
export interface PairOptions {
  /** Packets per batch (default 64). */
  batch?: number;
  /** vxlan: the source-port sockets each host sends from (default 4; 1 sends from the listening port). */
  sourcePorts?: number;
  /** ThreadConfig.backlogYieldUs (default 0: never). */
  backlogYieldUs?: number;
}

export function memoryPair(backend: Backend, network: Omit<MemoryNetworkOptions, 'clock'>, options: PairOptions = {}): MemoryPair {
  const batch = options.batch ?? 64;
  const pool = backend === 'vxlan' ? (options.sourcePorts ?? 4) : 1;
  const clock = new ManualClock();
  const net = new MemoryNetwork({ ...network, clock });
  const port = backend === 'udp' ? wire.udpBackend.PORT : wire.vxlan.PORT_LINUX;
  const hosts = SPECS.map((spec, i) => {
    const other = SPECS[1 - i];
    // vxlan sends from a pool of source ports, as the engine does; the udp backend from its listening port.
    const sourcePorts = pool > 1 ? Array.from({ length: pool }, (_, k) => 49160 + i * 64 + k) : [];
    const bind = net.bind(spec.underlay, port, sourcePorts);
    const tun = new MemoryTun({ queueLimit: 2048 });
    const snapshot = new RouteSnapshot();
    const template = backend === 'udp' ? wire.udpBackend.template() : wire.vxlan.template({ vni: VNI, srcMac: spec.mac, dstMac: other.mac });
    snapshot.publish([{ address: other.underlay, port, template, checksummed: true }], [{ subnet: other.subnet, peer: 0 }]);
    const routes = new RouteReader(snapshot);
    const counters = new Float64Array(COUNTERS.length);
    const subnet = parseCidr4(spec.subnet);
    const host = { yields: 0 };
    const loop = buildLoop(
      'duplex',
      {
        tun,
        bind,
        waitEither: net.waitEither(tun, bind),
        routes,
        counters,
        clock,
        control: new Control(),
        yieldCore: () => host.yields++,
      },
      {
        batch,
        headroom: HEADROOM,
        stride: STRIDE,
        mtu: MTU,
        replyInline: false,
        tooBigBucket: TokenBucket.allocate(),
        backlogYieldUs: options.backlogYieldUs ?? 0,
        rx: {
          backend,
          vni: VNI,
          subnet: subnet.network,
          subnetMask: prefixMask(subnet.prefix),
          subnet6: new Int32Array(4),
          subnet6Mask: new Int32Array(4),
          ipv6: false,
        },
      },
    );
    return Object.assign(host, { name: spec.name, overlay: subnet.network, tun, bind, loop, counters, snapshot }) satisfies MemoryHost;
  });
  const [a, b] = hosts;
  const settle = (): number => {
    for (let round = 1; round <= 10_000; round++) {
      if (a.loop.step(0) + b.loop.step(0) === 0) return round;
    }
    throw new Error('the loops did not settle within 10,000 rounds');
  };
  return { clock, network: net, a, b, settle };
}

/** The drop and error counters (every drop* and *Errors of COUNTERS) that must stay 0 on a clean path. */
export function faults(counters: Float64Array): Record<string, number> {
  const names = COUNTERS.filter((n) => n.startsWith('drop') || n.endsWith('Errors'));
  return Object.fromEntries(names.map((n) => [n, counters[C[n]]]));
}
