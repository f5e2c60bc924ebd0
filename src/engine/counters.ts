/**
 * Data-plane counters in shared memory, read by anyone without a call. Float64
 * holds integers exactly up to 2^53. Writes are plain increments, no atomics:
 * with one thread (the default) there is one writer. With `threads: 2` the TX
 * counters have one writer at a time (the TUN reader lock, control.ts) and the
 * RX counters only the RX thread, but `dropMalformed` is counted by both the
 * TX decisions and the RX decisions, unlocked: an increment can be lost when
 * the two collide, so it may read low there.
 */
export const COUNTERS = [
  'txPackets',
  'txBytes',
  'txBatches',
  'rxPackets',
  'rxBytes',
  'rxBatches',
  'rxMerged',
  'rxMergedUdp',
  'dropNoRoute',
  'dropOversize',
  'dropMalformed',
  'dropUnknownSender',
  'dropWrongVni',
  'dropUnknownVtep',
  'dropNotOurs',
  'sendErrors',
  'writeErrors',
  'encapErrors',
  'icmpTooBig',
  'txInline',
  'txWhole',
  'txCoalesced',
  'txYields',
] as const;

export type CounterName = (typeof COUNTERS)[number];
export type CounterValues = Record<CounterName, number>;

export const C = Object.fromEntries(COUNTERS.map((name, i) => [name, i])) as Record<CounterName, number>;

export function newCounterBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(COUNTERS.length * 8);
}

export function readCounters(buffer: SharedArrayBuffer): CounterValues {
  const view = new Float64Array(buffer);
  return Object.fromEntries(COUNTERS.map((name, i) => [name, view[i]])) as CounterValues;
}
