/**
 * Data-plane counters in shared memory: each worker writes only its own
 * slots (no atomics needed), anyone reads them without a call. Float64 holds
 * integers exactly up to 2^53.
 */
export const COUNTERS = [
  'txPackets', 'txBytes', 'txBatches', 'rxPackets', 'rxBytes', 'rxBatches', 'rxMerged',
  'dropNoRoute', 'dropOversize', 'dropMalformed', 'dropUnknownSender', 'dropWrongVni', 'dropUnknownVtep', 'dropNotOurs',
  'sendErrors', 'writeErrors', 'encapErrors', 'icmpTooBig', 'txInline', 'txWhole',
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
