/**
 * The packet engine: one TUN device, one UDP socket, one data-plane thread
 * for both directions (or two, TX and RX: options.threads).
 *
 *   TX: TUN → decide (lease lookup) → encapsulate → UDP   (see worker.ts)
 *   RX: UDP → decide (known sender, VNI, our subnet) → TUN
 *
 * Ownership: the engine opens the TUN and the socket and closes them after
 * the workers have exited; workers only borrow the fds. Routes arrive through
 * a RouteSnapshot (shared memory) that the control plane publishes into at any
 * time; counters are shared memory the engine reads without a call.
 */
import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { loadNative } from '../native/load.js';
import { newCounterBuffer, readCounters, type CounterValues } from './counters.js';
import { parseCidr, parseCidr4, prefixMask, wordMask } from '../util/cidr.js';
import { RouteSnapshot } from './routes.js';
import { forwardDropPolicies } from './forward-filter.js';
import { openTunnelTap, type TunnelTap } from './tunnel-tap.js';
import { TokenBucket } from './token-bucket.js';
import type { WorkerConfig } from './worker.js';

export interface EngineOptions {
  /** TUN device name; created by the engine, removed when it stops. */
  tunName: string;
  /** Own underlay address and UDP port to listen on. */
  listenAddress: string;
  listenPort: number;
  backend: 'udp' | 'vxlan';
  /** VXLAN network identifier (vxlan backend). */
  vni?: number;
  /** Own overlay subnet: received packets must be addressed into it. */
  subnet: string;
  /** Own IPv6 overlay subnet in a dual-stack overlay. */
  ipv6Subnet?: string;
  /** Overlay MTU: the largest inner packet sent; larger ones are answered with ICMP "too big". */
  mtu: number;
  /** Packets per batch (default 64). */
  batch?: number;
  /** How long a worker blocks in one native call, so stop() is seen in time (default 50 ms). */
  pollMs?: number;
  /** Socket send/receive buffer size (default 8 MiB). */
  socketBufferBytes?: number;
  /**
   * vxlan: how many sockets, bound to distinct ports in 49152–65535, send the outer packets; a flow's
   * hash picks one, so its source port follows the flow (RFC 7348 §5) and a receiving NIC can spread
   * flows over queues. 1 sends everything from the listening port. Default 8. The udp backend always
   * sends from its listening port, as flannel's and socat's TUN-over-UDP peers expect.
   */
  sourcePorts?: number;
  /**
   * Data-plane threads (default 1): 1 serves both directions in one loop; 2 runs a TX and an RX thread,
   * so each direction can have a core of its own (see worker.ts).
   */
  threads?: 1 | 2;
  /** threads 2: whether the RX thread sends the replies its own TUN writes provoke (default true; see worker.ts). */
  replyInline?: boolean;
  /**
   * Offloads to use when the kernel has them (each defaults to true; udpTunnelGso to 'auto': on where
   * the checks in wholeSuperPacketsRefusal() pass); every path works with none.
   */
  offloads?: Partial<OffloadChoices>;
  /** The underlay device (udpTunnelGso 'auto' checks that it segments UDP tunnels itself). */
  underlayDevice?: string;
}

export type OffloadChoices = Omit<Offloads, 'udpTunnelGso'> & { udpTunnelGso: boolean | 'auto' };

/** A line for the log about an offload: why one that was asked for is off (warn), or what 'auto' chose (info). */
export interface OffloadNote {
  level: 'warn' | 'info';
  text: string;
}

export interface Offloads {
  /** TUN virtio-net header with checksum and TCP/UDP segmentation offload (TUNSETOFFLOAD). */
  tun: boolean;
  /** UDP_SEGMENT: one send per TUN super-packet. */
  udpGso: boolean;
  /** UDP_GRO: coalesced receives; TCP segments are merged again for the TUN when `tun` is on. */
  udpGro: boolean;
  /**
   * vxlan over an IPv4 underlay: TCP super-packets to tulle hosts leave whole, as UDP-tunnel GSO frames
   * through a TAP the kernel forwards to the underlay (src/engine/tunnel-tap.ts), instead of being cut into
   * segments here.
   */
  udpTunnelGso: boolean;
}

const HEADROOM = 128; // room for the largest outer header (and the virtio-net header) before each packet
const STRIDE = 65536 + HEADROOM; // a slot holds the largest packet the TUN can hand over
const ARENA_BYTES = 2 << 20; // where GSO super-packets are split; reused once sent

export class Engine {
  private constructor(
    private readonly control: Int32Array,
    private readonly counterBuffer: SharedArrayBuffer,
    private readonly workers: Worker[],
    private readonly fds: number[],
    readonly tunName: string,
    /** The offloads in force, after probing the kernel. */
    readonly offloads: Offloads,
    /** vxlan: the outer source ports flows are spread over (empty: the listening port). */
    readonly sourcePorts: number[],
    /** Why an offload that was asked for is off, or what 'auto' chose (for the log). */
    readonly notes: OffloadNote[] = [],
  ) {}

  static async start(options: EngineOptions, routes: RouteSnapshot): Promise<Engine> {
    const native = loadNative();
    const subnet = parseCidr4(options.subnet);
    const subnet6 = options.ipv6Subnet === undefined ? undefined : parseCidr(options.ipv6Subnet);
    if (subnet6 !== undefined && subnet6.family !== 6) throw new Error(`ipv6Subnet "${options.ipv6Subnet}" is not an IPv6 prefix`);
    const family = options.listenAddress.includes(':') ? 6 : 4;
    const want: OffloadChoices = { tun: true, udpGso: true, udpGro: true, udpTunnelGso: 'auto', ...options.offloads };
    const L = native.layout;
    const tun = native.tunOpen(options.tunName, L.TUN_NONBLOCK | (want.tun ? L.TUN_VNET_HDR : 0));
    let udpFd = -1;
    let pool: { fd: number; port: number }[] = [];
    const offloads: Offloads = { tun: false, udpGso: false, udpGro: false, udpTunnelGso: false };
    const notes: OffloadNote[] = [];
    let tap: TunnelTap | undefined;
    try {
      if (want.tun) {
        // TSO needs CSUM; USO is newer (6.2): tunSetOffload falls back when refused.
        const accepted = native.tunSetOffload(tun.fd, L.TUN_F_CSUM | L.TUN_F_TSO4 | L.TUN_F_TSO6 | L.TUN_F_USO4 | L.TUN_F_USO6);
        offloads.tun = accepted !== 0;
      }
      udpFd = native.udpOpen(family, options.listenAddress, options.listenPort, options.socketBufferBytes ?? 8 << 20);
      offloads.udpGso = want.udpGso && offloads.tun && native.udpProbeGso(udpFd);
      offloads.udpGro = want.udpGro && native.udpEnableGro(udpFd);
      if (options.backend === 'vxlan' && (options.sourcePorts ?? 8) > 1) {
        pool = openSourcePorts(family, options.listenAddress, options.sourcePorts ?? 8, options.socketBufferBytes ?? 8 << 20);
      }
      if (want.udpTunnelGso !== false && !(want.udpTunnelGso === 'auto' && options.backend !== 'vxlan')) {
        const auto = want.udpTunnelGso === 'auto';
        const why = wholeSuperPacketsRefusal(options, offloads.tun, auto);
        const opened = why === undefined
          ? openTunnelTap(native, { tunName: tun.name, listenAddress: options.listenAddress, listenPort: options.listenPort, poolPorts: pool.map((p) => p.port) })
          : { refused: why };
        if ('tap' in opened) tap = opened.tap;
        offloads.udpTunnelGso = tap !== undefined;
        if (!offloads.udpTunnelGso) notes.push({ level: auto ? 'info' : 'warn', text: `udpTunnelGso off${auto ? ' (auto)' : ''}: ${(opened as { refused: string }).refused}` });
      }
    } catch (error) {
      for (const fd of [tun.fd, udpFd, ...pool.map((p) => p.fd)]) if (fd >= 0) closeSync(fd);
      throw error;
    }
    const control = new Int32Array(new SharedArrayBuffer(8));
    const counters = newCounterBuffer();
    const base: Omit<WorkerConfig, 'role'> = {
      tunFd: tun.fd, udpFd, control: control.buffer as SharedArrayBuffer, counters, routes: routes.buffers,
      batch: options.batch ?? 64, headroom: HEADROOM, stride: STRIDE, pollMs: options.pollMs ?? 50,
      mtu: options.mtu, backend: options.backend, vni: options.vni ?? 1,
      subnet: subnet.network, subnetMask: prefixMask(subnet.prefix),
      subnet6: subnet6?.words ?? [0, 0, 0, 0], subnet6Mask: [0, 32, 64, 96].map((start) => (subnet6 ? wordMask(subnet6.prefix, start) : 0)),
      ipv6: subnet6 !== undefined,
      vnet: want.tun, udpGso: offloads.udpGso, udpGro: offloads.udpGro, arenaBytes: ARENA_BYTES,
      replyInline: options.replyInline ?? true,
      sendFds: pool.length > 0 ? pool.map((p) => p.fd) : [udpFd],
      tooBigBucket: TokenBucket.allocate(),
      tunnelFd: tap?.fd ?? -1, tunnelParams: tap ? [...tap.params] : [],
    };
    const url = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
    const roles = (options.threads ?? 1) === 1 ? (['duplex'] as const) : (['tx', 'rx'] as const);
    const workers = roles.map((role) => new Worker(url, { workerData: { ...base, role } satisfies WorkerConfig }));
    const fds = [tun.fd, udpFd, ...pool.map((p) => p.fd), ...(tap ? [tap.fd] : [])];
    const engine = new Engine(control, counters, workers, fds, tun.name, offloads, pool.map((p) => p.port), notes);
    try {
      await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
        w.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`data-plane worker exited with code ${code} while starting`)));
      })));
    } catch (error) {
      await engine.stop();
      throw error;
    }
    return engine;
  }

  counters(): CounterValues {
    return readCounters(this.counterBuffer);
  }

  /** Resolves when a worker dies unexpectedly (the daemon should then stop). */
  failure(): Promise<Error> {
    return new Promise((resolve) => {
      for (const w of this.workers) w.once('error', (error) => resolve(error));
    });
  }

  /** Data-plane threads running: 1 (both directions) or 2 (TX and RX). */
  get threads(): number {
    return this.workers.length;
  }

  /** Stops the workers, then closes the fds (which removes the TUN). */
  async stop(): Promise<void> {
    Atomics.store(this.control, 0, 1);
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      if (w.threadId === -1) return resolve();
      w.once('exit', () => resolve());
    })));
    while (this.fds.length > 0) {
      try {
        closeSync(this.fds.pop()!);
      } catch {
        // already closed
      }
    }
  }
}

/**
 * Why TCP super-packets cannot leave whole here, or undefined. Asked for outright, only what would
 * break it is checked; 'auto' also wants an underlay that segments UDP tunnels itself (else the
 * kernel's software segmentation is slower than tulle's split) and no firewall that drops forwarded
 * packets by default.
 */
function wholeSuperPacketsRefusal(options: EngineOptions, tunOffloads: boolean, auto: boolean): string | undefined {
  if (options.backend !== 'vxlan') return 'the backend is not vxlan';
  if (!tunOffloads) return 'the TUN has no offloads';
  if (!auto) return undefined;
  const device = options.underlayDevice;
  if (device === undefined) return 'no underlay device to check';
  let segments: boolean | undefined;
  try {
    segments = loadNative().ethtoolFeatureActive(device, 'tx-udp_tnl-csum-segmentation');
  } catch (error) {
    return `reading ${device}'s features: ${(error as Error).message}`;
  }
  if (segments !== true) return `${device} does not segment UDP tunnels itself (tx-udp_tnl-csum-segmentation off)`;
  const drops = forwardDropPolicies();
  if (drops.length > 0) {
    return `the firewall drops forwarded packets by default (${drops.join('; ')}); accept those from the tunnel TAP and set offloads.udpTunnelGso: true`;
  }
  return undefined;
}

const SOURCE_PORT_MIN = 49152;
const SOURCE_PORT_SPAN = 65536 - SOURCE_PORT_MIN;

/** Binds `count` send-only sockets to free ports in 49152–65535, starting at a random one. */
function openSourcePorts(family: 4 | 6, address: string, count: number, bufferBytes: number): { fd: number; port: number }[] {
  const native = loadNative();
  const pool: { fd: number; port: number }[] = [];
  const start = Math.floor(Math.random() * SOURCE_PORT_SPAN);
  try {
    for (let i = 0; i < SOURCE_PORT_SPAN && pool.length < count; i++) {
      const port = SOURCE_PORT_MIN + ((start + i) % SOURCE_PORT_SPAN);
      try {
        pool.push({ fd: native.udpOpen(family, address, port, bufferBytes), port });
      } catch (error) {
        if (!/EADDRINUSE|in use/i.test((error as Error).message)) throw error;
      }
    }
    if (pool.length < count) throw new Error(`only ${pool.length} of ${count} ports in 49152-65535 are free on ${address}`);
  } catch (error) {
    for (const p of pool) closeSync(p.fd);
    throw error;
  }
  return pool;
}
