/**
 * Puts one data-plane thread together from its parts: the TUN side, the
 * socket side, a way to wait on both, the thread's route reader, the
 * engine's counters, a clock and the shared control words. The worker
 * (worker.ts) passes native parts; tests pass the memory fakes.
 */
import { BacklogYield } from './backlog-yield.js';
import type { Bind } from './bind.js';
import type { Clock } from './clock.js';
import type { Control } from './control.js';
import type { RxPolicy } from './decide.js';
import { DuplexLoop, RxLoop, TxLoop, type Loop } from './loops.js';
import type { RouteReader } from './routes.js';
import { RxPipeline } from './rx-pipeline.js';
import type { TunDevice } from './tun-device.js';
import { TxPipeline } from './tx-pipeline.js';
import type { WaitEither } from './wait-either.js';

/** Packets the RX thread takes from the TUN after a write: replies, not a bulk transfer (that stays with TX). */
const INLINE_BATCH = 8;

export type ThreadRole = 'tx' | 'rx' | 'duplex';

export interface ThreadParts {
  tun: TunDevice;
  bind: Bind;
  /** Duplex only: sleeps on `tun` and `bind` at once. */
  waitEither: WaitEither;
  routes: RouteReader;
  counters: Float64Array;
  clock: Clock;
  control: Control;
  /** Gives up the core (the addon's yieldCore), for the TX pipeline's backlog yields. */
  yieldCore: () => void;
}

export interface ThreadConfig {
  batch: number;
  headroom: number;
  stride: number;
  mtu: number;
  rx: RxPolicy;
  /** RX thread (role 'rx'): send what the TUN holds right after each write (rx-pipeline.ts ReplyInline). */
  replyInline: boolean;
  /** TokenBucket.allocate(), one per engine. */
  tooBigBucket: SharedArrayBuffer;
  /** Low-latency mode: the parts' waits busy-poll (native-wait.ts), so RX waits through bind.waitReadable. */
  busyPoll?: boolean;
  /** RX: the TUN's accepted USO bits (RxOptions.uso); 0 or absent: UDP datagrams go one write each. */
  uso?: number;
  /** TX: at most one yield per this many µs while TUN reads come back full (backlog-yield.ts); 0 or absent: never. */
  backlogYieldUs?: number;
}

export function buildLoop(role: ThreadRole, p: ThreadParts, c: ThreadConfig): Loop {
  const tx = (batch: number, backlogYield?: BacklogYield) =>
    new TxPipeline(p.tun, p.bind, p.routes, p.counters, p.clock, {
      batch,
      headroom: c.headroom,
      stride: c.stride,
      mtu: c.mtu,
      tooBigBucket: c.tooBigBucket,
      backlogYield,
    });
  // The thread's own TX batches only: the RX thread's inline replies are no backlog of the TUN.
  const main = () => tx(c.batch, new BacklogYield(c.backlogYieldUs ?? 0, p.clock, p.yieldCore));
  const rx = (inline: TxPipeline | undefined) =>
    new RxPipeline(
      p.tun,
      p.bind,
      p.routes,
      p.counters,
      c.rx,
      { batch: c.batch, headroom: c.headroom, stride: c.stride, mtu: c.mtu, uso: c.uso ?? 0 },
      inline === undefined ? undefined : { tx: inline, control: p.control },
    );
  if (role === 'tx') return new TxLoop(p.tun, main(), p.control);
  if (role === 'rx') return new RxLoop(rx(c.replyInline ? tx(INLINE_BATCH) : undefined), c.busyPoll ? (ms) => p.bind.waitReadable(ms) : undefined);
  return new DuplexLoop(main(), rx(undefined), p.waitEither);
}
