/**
 * The words an engine's data-plane threads share: a stop flag the engine
 * sets, and the TUN reader lock. The lock lets one thread at a time read the
 * TUN and send what it read, so a flow's packets never overtake each other
 * between two threads and the TX counters have one writer at a time.
 */
const STOP = 0;
const LOCK = 1;
export const CONTROL_WORDS = 2;

export class Control {
  readonly words: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(CONTROL_WORDS * 4)) {
    this.words = new Int32Array(buffer);
  }

  get stopped(): boolean {
    return Atomics.load(this.words, STOP) !== 0;
  }

  stop(): void {
    Atomics.store(this.words, STOP, 1);
  }

  tryLock(): boolean {
    return Atomics.compareExchange(this.words, LOCK, 0, 1) === 0;
  }

  lock(): void {
    while (!this.tryLock()) Atomics.wait(this.words, LOCK, 1, 1);
  }

  unlock(): void {
    Atomics.store(this.words, LOCK, 0);
    Atomics.notify(this.words, LOCK, 1);
  }
}
