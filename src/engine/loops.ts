/**
 * The data-plane loops a thread runs until the engine's stop flag is set:
 * both directions in one loop (duplex, the default), or TX and RX apart on
 * two threads. Each step blocks for at most `timeoutMs`, so the flag is seen
 * within that time. step() does one round, for loops driven from outside
 * (tests over the memory fakes); run() repeats it.
 *
 * One thread per host is the default because a hand-over between threads costs
 * more than the work it spreads on small machines: a TCP flow's ACKs and the
 * data they release cross from one thread to the other and back, each time
 * with a wake-up. On two cores one thread used 15-20% less CPU for the same
 * or more TCP throughput, with a lower RTT (docs/benchmarks.md).
 */
import type { Control } from './control.js';
import type { RxPipeline } from './rx-pipeline.js';
import type { TunDevice } from './tun-device.js';
import type { TxPipeline } from './tx-pipeline.js';
import { BIND_READY, type WaitEither } from './wait-either.js';

export interface Loop {
  /** One round: waits at most `timeoutMs` for work, does it; returns the packets or datagrams handled. */
  step(timeoutMs: number): number;
}

export function runUntilStopped(loop: Loop, control: Control, pollMs: number): void {
  while (!control.stopped) loop.step(pollMs);
}

/** TX thread: sleeps without the TUN reader lock, so the RX thread can take a reply meanwhile; then reads what is left. */
export class TxLoop implements Loop {
  constructor(
    private readonly tun: TunDevice,
    private readonly tx: TxPipeline,
    private readonly control: Control,
  ) {}

  step(timeoutMs: number): number {
    if (!this.tun.waitReadable(timeoutMs)) return 0;
    this.control.lock();
    try {
      return this.tx.run(0);
    } finally {
      this.control.unlock();
    }
  }
}

/**
 * RX thread: receives, writes into the TUN and (with its ReplyInline) sends the replies that provoked.
 * With `wait` (the low-latency mode: a busy-polling Bind.waitReadable) it waits through that first.
 */
export class RxLoop implements Loop {
  constructor(
    private readonly rx: RxPipeline,
    private readonly wait?: (timeoutMs: number) => boolean,
  ) {}

  step(timeoutMs: number): number {
    if (this.wait === undefined) return this.rx.run(timeoutMs);
    return this.wait(timeoutMs) ? this.rx.run(0) : 0;
  }
}

/** One thread for both directions: no hand-over between threads within a host. */
export class DuplexLoop implements Loop {
  constructor(
    private readonly tx: TxPipeline,
    private readonly rx: RxPipeline,
    private readonly waitEither: WaitEither,
  ) {}

  step(timeoutMs: number): number {
    const ready = this.waitEither.wait(timeoutMs);
    if (ready === 0) return 0;
    // Receive first: what it writes to the TUN often queues replies there, which the TX step then sends.
    const received = (ready & BIND_READY) !== 0 ? this.rx.run(0) : 0;
    return received + this.tx.run(0);
  }
}
