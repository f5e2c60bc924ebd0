/** A Connection and a MemoryRegistry on one virtual clock, as the etcd unit tests build them: reconnect backoff without jitter (200, 400, … 5000 ms), every registry call recorded. */
import type { Test } from 'tap';
import { Connection } from '../../src/etcd/connection.js';
import { MemoryRegistry, type RegistryCall } from '../../src/etcd/memory-registry.js';
import { VirtualClock } from './virtual-clock.js';

export function memoryEtcd(t: Test, o: { clock?: VirtualClock; registry?: MemoryRegistry } = {}) {
  const clock = o.clock ?? new VirtualClock();
  const calls: { call: RegistryCall; at: number; failed: boolean }[] = [];
  const registry = o.registry ?? new MemoryRegistry({ clock, observe: (c) => calls.push(c) });
  const logs: string[] = [];
  const connection = new Connection({
    endpoints: ['memory'],
    log: (line) => logs.push(line),
    pingIntervalMs: 60_000,
    retryInitialMs: 200,
    retryMaxMs: 5000,
    random: () => 1,
    ping: () => registry.ping(),
    clock,
  });
  t.teardown(() => connection.close());
  return { clock, calls, registry, logs, connection };
}
