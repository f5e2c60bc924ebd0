/**
 * The packet engine: one TUN device, one UDP socket, one data-plane thread
 * for both directions (or two, TX and RX: options.threads).
 *
 *   TX: TUN → decide (lease lookup) → encapsulate → UDP   (see tx-pipeline.ts)
 *   RX: UDP → decide (known sender, VNI, our subnet) → TUN
 *
 * The engine opens nothing and runs no commands: the host layer
 * (src/daemon/host-setup.ts) opens the TUN, the sockets and the tunnel TAP and
 * probes the offloads, and start() is given the result.
 *
 * Ownership: from the call to start() on, the engine owns every fd in
 * host.devices: it closes them after the workers have exited, or when start()
 * fails; workers only borrow them. Routes arrive through a RouteSnapshot
 * (shared memory) that the control plane publishes into at any time; counters
 * are shared memory the engine reads without a call.
 */
import { closeSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { DEFAULT_BACKLOG_YIELD_US } from './backlog-yield.js';
import { newCounterBuffer, readCounters, type CounterValues } from './counters.js';
import { parseCidr, parseCidr4, prefixMask, wordMask } from '../util/cidr.js';
import { RouteSnapshot } from './routes.js';
import type { WarmUpResult } from './warm-up.js';
import { TokenBucket } from './token-bucket.js';
import { TUN_F_USO4, TUN_F_USO6 } from '../native/layout.js';
import { startWorker } from './start-worker.js';
import type { WorkerConfig } from './worker.js';

/** The routing and policy the engine runs with; the host side is in EngineHost. */
export interface EngineOptions {
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
  /**
   * Data-plane threads (default 1): 1 serves both directions in one loop; 2 runs a TX and an RX thread,
   * so each direction can have a core of its own (see loops.ts).
   */
  threads?: 1 | 2;
  /** threads 2: whether the RX thread sends the replies its own TUN writes provoke (default true; see rx-pipeline.ts). */
  replyInline?: boolean;
  /**
   * The low-latency mode: microseconds a data-plane thread keeps polling its TUN and socket after the last
   * packet it saw before it sleeps again (default 0: off). See native/src/io.cc PollSpinning and docs/benchmarks.md.
   */
  busyPollUs?: number;
  /**
   * Whether each data-plane thread runs its pipeline code over a loop of its own (never leaving the host)
   * before it reports ready, so its first real packets run compiled code (default true; see warm-up.ts).
   */
  warmUp?: boolean;
  /**
   * While a data-plane thread's TUN reads come back full, it yields its core at most once per this many
   * microseconds, so the applications it carries for get to run (default 500; 0: never; see backlog-yield.ts).
   */
  backlogYieldUs?: number;
}

/** The devices and sockets the engine runs on, opened for it (see the ownership rule above). */
export interface EngineDevices {
  /** vnet: opened with a virtio-net header (IFF_VNET_HDR), whether or not its offloads were accepted. */
  tun: { fd: number; name: string; vnet: boolean };
  /** The listening socket; it receives, and sends when there is no source-port pool. */
  udpFd: number;
  /** vxlan: the source-port pool's sockets, in order (empty: the listening socket sends). */
  sourcePorts: { fd: number; port: number }[];
  /** The tunnel TAP whole super-packets leave through, and its txBatch params (NativeLayout.TUNNEL_PARAMS_BYTES). */
  tunnel?: { fd: number; params: Uint8Array };
}

/** What the host layer opened and found: the engine's devices, the offloads in force and the log lines about them. */
export interface EngineHost {
  devices: EngineDevices;
  offloads: Offloads;
  notes: OffloadNote[];
}

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
   * through a TAP the kernel forwards to the underlay (src/daemon/tunnel-tap.ts), instead of being cut into
   * segments here.
   */
  udpTunnelGso: boolean;
  /** TUN USO (TUN_F_USO4 and TUN_F_USO6): runs of equal-size datagrams of one UDP flow go into the TUN as one super-packet. */
  uso: boolean;
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
    /** The offloads in force, as the host layer found them. */
    readonly offloads: Offloads,
    /** vxlan: the outer source ports flows are spread over (empty: the listening port). */
    readonly sourcePorts: number[],
    /** Why an offload that was asked for is off, or what 'auto' chose (for the log). */
    readonly notes: OffloadNote[] = [],
  ) {}

  /** What each thread's warm-up did (warm-up.ts), one entry per thread; empty when it was off. */
  readonly warmUps: WarmUpResult[] = [];

  static async start(host: EngineHost, options: EngineOptions, routes: RouteSnapshot): Promise<Engine> {
    const { tun, udpFd, sourcePorts: pool, tunnel } = host.devices;
    const fds = [tun.fd, udpFd, ...pool.map((p) => p.fd), ...(tunnel ? [tunnel.fd] : [])];
    let base: Omit<WorkerConfig, 'role'>;
    try {
      const subnet = parseCidr4(options.subnet);
      const subnet6 = options.ipv6Subnet === undefined ? undefined : parseCidr(options.ipv6Subnet);
      if (subnet6 !== undefined && subnet6.family !== 6) throw new Error(`ipv6Subnet "${options.ipv6Subnet}" is not an IPv6 prefix`);
      base = {
        tunFd: tun.fd,
        udpFd,
        control: new SharedArrayBuffer(8),
        counters: newCounterBuffer(),
        routes: routes.buffers,
        batch: options.batch ?? 64,
        headroom: HEADROOM,
        stride: STRIDE,
        pollMs: options.pollMs ?? 50,
        mtu: options.mtu,
        backend: options.backend,
        vni: options.vni ?? 1,
        subnet: subnet.network,
        subnetMask: prefixMask(subnet.prefix),
        subnet6: subnet6?.words ?? [0, 0, 0, 0],
        subnet6Mask: [0, 32, 64, 96].map((start) => (subnet6 ? wordMask(subnet6.prefix, start) : 0)),
        ipv6: subnet6 !== undefined,
        vnet: tun.vnet,
        udpGso: host.offloads.udpGso,
        udpGro: host.offloads.udpGro,
        // The kernel takes TUN_F_USO4 and TUN_F_USO6 together or not at all.
        uso: host.offloads.uso ? TUN_F_USO4 | TUN_F_USO6 : 0,
        arenaBytes: ARENA_BYTES,
        replyInline: options.replyInline ?? true,
        busyPollUs: options.busyPollUs ?? 0,
        warmUp: options.warmUp ?? true,
        backlogYieldUs: options.backlogYieldUs ?? DEFAULT_BACKLOG_YIELD_US,
        sendFds: pool.length > 0 ? pool.map((p) => p.fd) : [udpFd],
        tooBigBucket: TokenBucket.allocate(),
        tunnelFd: tunnel?.fd ?? -1,
        tunnelParams: tunnel ? [...tunnel.params] : [],
      };
    } catch (error) {
      closeAll(fds);
      throw error;
    }
    const roles = (options.threads ?? 1) === 1 ? (['duplex'] as const) : (['tx', 'rx'] as const);
    const workers = roles.map((role) => startWorker({ ...base, role }));
    const engine = new Engine(
      new Int32Array(base.control),
      base.counters,
      workers,
      fds,
      tun.name,
      host.offloads,
      pool.map((p) => p.port),
      host.notes,
    );
    try {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              w.once('message', (m: { ready?: boolean; error?: string; warm?: WarmUpResult }) => {
                if (!m.ready) return reject(new Error(m.error));
                if (m.warm !== undefined) engine.warmUps.push(m.warm);
                resolve();
              });
              w.once('error', reject);
              w.once('exit', (code) => reject(new Error(`data-plane worker exited with code ${code} while starting`)));
            }),
        ),
      );
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
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.threadId === -1) return resolve();
            w.once('exit', () => resolve());
          }),
      ),
    );
    closeAll(this.fds);
  }
}

/** Closes each fd once (newest first), emptying the list; one already closed is skipped. */
function closeAll(fds: number[]): void {
  while (fds.length > 0) {
    try {
      closeSync(fds.pop()!);
    } catch {
      // already closed
    }
  }
}
