// No allocation per packet: 100,000 packets each way through the TX and RX pipelines of two engines over
// the memory fakes, after a warm-up, must neither start a garbage collection nor grow the heap by more than
// a small fraction of a byte per packet.
//
// How it is measured: after the warm-up (so the JIT has compiled the hot paths and the fakes' pooled
// buffers exist), a forced full GC, then V8's used heap size; then the run; then the used heap size again,
// with no GC in between. A PerformanceObserver counts the GCs V8 started on its own during the run (forced
// ones carry NODE_PERFORMANCE_GC_FLAGS_FORCED). The smallest object V8 makes, a boxed number, is 16
// bytes: one per packet would grow the heap by 3.2 MB over 200,000 packets (or start a scavenge), twice
// times the bound. The bound leaves room for what is allowed per batch (a batch is 64 packets).
// The memory fakes pool their buffers (src/engine/packet-queue.ts), so the fakes allocate nothing either.
//
// vxlan runs with a pool of 8 source-port sockets, as the daemon does: decideTx picks each packet's socket
// with wire.flowSlot(), a small integer. Picked from wire.flowHash(), whose unsigned 32-bit result is boxed
// on return, it allocated 16 bytes per packet (10.8 B/packet here, over the bound).
import t from 'tap';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { C } from '../src/engine/counters.js';
import { faults, memoryPair, type Backend } from './helpers/memory-engines.js';
import { udpPacket } from './helpers/packets.js';
import * as wire from '@tulle/wire';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PACKETS = 100_000;
const WARM_UP = 20_000;
const BATCH = 64;
/** Heap growth allowed over the whole run: 8 bytes per packet, half of one boxed number per packet. */
const BYTES_PER_PACKET = 8;
const GROWTH_BOUND = 2 * PACKETS * BYTES_PER_PACKET;

for (const backend of ['udp', 'vxlan'] as const satisfies readonly Backend[]) {
  t.test(`${backend}: ${PACKETS.toLocaleString('en')} packets each way allocate nothing per packet`, async (t) => {
    const pair = memoryPair(backend, { seed: 1 }, { batch: BATCH, sourcePorts: backend === 'vxlan' ? 8 : 1 });
    const { a, b } = pair;
    const toB = udpPacket(wire.formatIPv4(a.overlay), wire.formatIPv4(b.overlay), 4000, 5000, new Uint8Array(1000).fill(7));
    const toA = udpPacket(wire.formatIPv4(b.overlay), wire.formatIPv4(a.overlay), 5000, 4000, new Uint8Array(1000).fill(9));
    let delivered = 0;
    const received = (_bytes: Uint8Array, _offset: number, _length: number): void => {
      delivered++;
    };
    const run = (packets: number): void => {
      for (let sent = 0; sent < packets; sent += BATCH) {
        for (let i = 0; i < BATCH && sent + i < packets; i++) {
          a.tun.inject(toB.bytes, toB.offset, toB.length);
          b.tun.inject(toA.bytes, toA.offset, toA.length);
        }
        pair.settle();
        a.tun.drain(received);
        b.tun.drain(received);
      }
    };

    run(WARM_UP);
    let collections = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const detail = (e as unknown as { detail?: { flags: number } }).detail;
        if (detail === undefined || (detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) === 0) collections++;
      }
    });
    gc();
    await new Promise((resolve) => setImmediate(resolve)); // the forced GC's entry is delivered before we start counting
    observer.observe({ entryTypes: ['gc'] });
    delivered = 0;
    const before = getHeapStatistics().used_heap_size;
    run(PACKETS);
    const after = getHeapStatistics().used_heap_size;
    await new Promise((resolve) => setImmediate(resolve));
    observer.disconnect();
    const growth = after - before;
    t.comment(
      `${backend}: heap growth ${growth} bytes over ${2 * PACKETS} packets (${(growth / (2 * PACKETS)).toFixed(3)} B/packet), ${collections} GCs during the run`,
    );
    t.equal(delivered, 2 * PACKETS, 'every packet crossed, both ways');
    for (const h of [a, b]) {
      t.same(faults(h.counters), faults(new Float64Array(h.counters.length)), `${h.name}: no drops, no errors`);
      t.equal(h.counters[C.txPackets], WARM_UP + PACKETS, `${h.name}: sent every packet`);
    }
    t.equal(collections, 0, 'no garbage collection started during the run');
    t.ok(growth < GROWTH_BOUND, `heap growth ${growth} bytes < ${GROWTH_BOUND} (${BYTES_PER_PACKET} per packet)`);
  });
}
