/**
 * A data-plane thread's entry: builds the native TUN and socket sides from
 * the engine's WorkerConfig and runs the loop of its role (thread-loop.ts,
 * loops.ts) until the engine's stop flag is set. Everything it runs is
 * importable on its own; only this file reads workerData.
 *
 * With two threads, replies go without a wake-up (rx-pipeline.ts ReplyInline),
 * and the TUN reader lock in shared memory (control.ts) lets one thread at a
 * time read the TUN and send, so packets of one flow never overtake each
 * other between the two threads, and the TX counters keep a single writer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from '../native/load.js';
import { wallClock } from './clock.js';
import { Control } from './control.js';
import { stderrLog } from './log.js';
import { NativeBind } from './native-bind.js';
import { NativeTun } from './native-tun.js';
import { nativeWaitEither } from './native-wait.js';
import { RouteReader, RouteSnapshot } from './routes.js';
import { runUntilStopped, type Loop } from './loops.js';
import { buildLoop } from './thread-loop.js';
import { warmUp, type WarmUpResult } from './warm-up.js';

export interface WorkerConfig {
  role: 'tx' | 'rx' | 'duplex';
  tunFd: number;
  udpFd: number;
  control: SharedArrayBuffer; // Int32 [0] = stop flag, [1] = TUN reader lock (control.ts)
  counters: SharedArrayBuffer;
  routes: ReturnType<typeof RouteSnapshot.allocate>;
  batch: number;
  headroom: number;
  stride: number;
  pollMs: number;
  mtu: number;
  backend: 'udp' | 'vxlan';
  vni: number;
  subnet: number;
  subnetMask: number;
  /** IPv6 overlay subnet as network words and mask words (all zero without one). */
  subnet6: number[];
  subnet6Mask: number[];
  ipv6: boolean;
  /** The TUN has a virtio-net header (offloads on). */
  vnet: boolean;
  udpGso: boolean;
  udpGro: boolean;
  /** TUN_F_USO4 / TUN_F_USO6 bits in force (RxOptions.uso), 0 without USO. */
  uso: number;
  arenaBytes: number;
  /** RX reads and sends what the TUN holds right after each write (rx-pipeline.ts ReplyInline). */
  replyInline: boolean;
  /** The sockets outer packets leave on; with more than one, a flow's hash picks (its source port). */
  sendFds: number[];
  /** The ICMP "too big" budget both threads draw on (a TokenBucket; used under the TUN reader lock). */
  tooBigBucket: SharedArrayBuffer;
  /** The tunnel TAP whole super-packets leave through (src/daemon/tunnel-tap.ts), or -1; its txBatch params. */
  tunnelFd: number;
  tunnelParams: number[];
  /** Low-latency mode: microseconds each wait busy-polls before it sleeps (0: off; EngineOptions.busyPollUs). */
  busyPollUs: number;
  /** Run the pipeline code over a loop of its own before reporting ready (warm-up.ts; EngineOptions.warmUp). */
  warmUp: boolean;
  /** At most one yield per this many µs while TUN reads come back full (backlog-yield.ts); 0: never. */
  backlogYieldUs: number;
}

function start(config: WorkerConfig): { loop: Loop; control: Control; routes: RouteReader; warm: WarmUpResult | undefined } {
  const native = loadNative();
  const log = stderrLog({ thread: config.role });
  native.setThreadName(`tulle-${config.role}`);
  const rx = {
    backend: config.backend,
    vni: config.vni,
    subnet: config.subnet,
    subnetMask: config.subnetMask,
    subnet6: Int32Array.from(config.subnet6),
    subnet6Mask: Int32Array.from(config.subnet6Mask),
    ipv6: config.ipv6,
  };
  const control = new Control(config.control);
  const routes = new RouteReader(new RouteSnapshot(config.routes));
  const tun = new NativeTun(native, config.tunFd, config.vnet, config.busyPollUs);
  const bind = new NativeBind(
    native,
    {
      fd: config.udpFd,
      sendFds: config.sendFds,
      gro: config.udpGro,
      udpGso: config.udpGso,
      tunnelFd: config.tunnelFd,
      tunnelParams: config.tunnelParams,
      arenaBytes: config.arenaBytes,
      spinUs: config.busyPollUs,
    },
    log,
  );
  const parts = {
    tun,
    bind,
    waitEither: nativeWaitEither(native, tun, bind, config.busyPollUs),
    routes,
    counters: new Float64Array(config.counters),
    clock: wallClock,
    control,
    yieldCore: () => native.yieldCore(),
  };
  const threadConfig = {
    batch: config.batch,
    headroom: config.headroom,
    stride: config.stride,
    mtu: config.mtu,
    replyInline: config.replyInline,
    tooBigBucket: config.tooBigBucket,
    busyPoll: config.busyPollUs > 0,
    uso: config.uso,
    backlogYieldUs: config.backlogYieldUs,
    rx,
  };
  const warm = config.warmUp ? warmUp(native, parts, threadConfig) : undefined;
  const loop = buildLoop(config.role, parts, threadConfig);
  return { loop, control, routes, warm };
}

try {
  const { loop, control, routes, warm } = start(workerData as WorkerConfig);
  routes.refresh();
  parentPort!.postMessage({ ready: true, warm });
  runUntilStopped(loop, control, (workerData as WorkerConfig).pollMs);
} catch (error) {
  parentPort!.postMessage({ error: (error as Error).message });
  throw error;
}
