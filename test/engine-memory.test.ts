// Two engines in one process, without root: the pipelines and the duplex loop the worker runs, over a
// memory TUN each and a memory network between them that really encapsulates (udp and vxlan) and loses,
// delays, reorders and duplicates datagrams from a seeded PRNG. Ping both ways, then 64 MiB of hashed
// data each way at once over 1% loss and reordering, with a small reliable transfer on top.
import t from 'tap';
import { faults, memoryPair, MTU, type Backend, type MemoryHost } from './helpers/memory-engines.js';
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, echo, OverlayHost, TransferReceiver, TransferSender } from './helpers/overlay-traffic.js';
import { C } from '../src/engine/counters.js';

const MIB = 1 << 20;
const TRANSFER_BYTES = 64 * MIB;
/** Data per packet: the overlay MTU less IPv4, UDP and the transfer's own header. */
const CHUNK = MTU - 20 - 8 - 8;
const CHUNKS = Math.ceil(TRANSFER_BYTES / CHUNK);
/** Virtual time per round of the drive loop, ms. */
const TICK_MS = 0.05;

function injector(host: MemoryHost): (bytes: Uint8Array, length: number) => boolean {
  return (bytes, length) => host.tun.inject(bytes, 0, length);
}

for (const backend of ['udp', 'vxlan'] as const satisfies readonly Backend[]) {
  t.test(`${backend}: two engines over a memory network`, async (t) => {
    const pair = memoryPair(backend, { seed: backend === 'udp' ? 11 : 12 });
    const { a, b, network, clock } = pair;
    // The last chunk is shorter in the byte count, not in the packets: the data sent is CHUNKS whole chunks.
    const senderA = new TransferSender(a.overlay, b.overlay, CHUNKS, CHUNK, 768, 6, 0xa11ce);
    const senderB = new TransferSender(b.overlay, a.overlay, CHUNKS, CHUNK, 768, 6, 0xb0b);
    const hostA = new OverlayHost(a.overlay, injector(a), senderA, new TransferReceiver(a.overlay, b.overlay, CHUNKS));
    const hostB = new OverlayHost(b.overlay, injector(b), senderB, new TransferReceiver(b.overlay, a.overlay, CHUNKS));
    const drain = () => {
      a.tun.drain(hostA.deliver);
      b.tun.drain(hostB.deliver);
    };

    t.test('ping both ways', async (t) => {
      const payload = new Uint8Array(56).map((_, i) => i);
      const packet = new Uint8Array(128);
      for (let seq = 1; seq <= 3; seq++) {
        a.tun.inject(packet, 0, echo(packet, ICMP_ECHO_REQUEST, a.overlay, b.overlay, 0x1a, seq, payload));
        b.tun.inject(packet, 0, echo(packet, ICMP_ECHO_REQUEST, b.overlay, a.overlay, 0x1b, seq, payload));
        // Request out, through b's TUN to its responder; reply back the same way.
        for (let i = 0; i < 3; i++) {
          pair.settle();
          drain();
        }
      }
      for (const [host, from, id] of [
        [hostA, b.overlay, 0x1a],
        [hostB, a.overlay, 0x1b],
      ] as const) {
        t.same(
          host.replies.map((r) => [r.type, r.src, r.dst, r.id, r.seq]),
          [1, 2, 3].map((seq) => [ICMP_ECHO_REPLY, from, host.own, id, seq]),
          'three echo replies from the other host, in order',
        );
        t.ok(
          host.replies.every((r) => r.payload.every((v, i) => v === i)),
          "each with the request's payload",
        );
      }
      for (const h of [a, b]) {
        t.same(faults(h.counters), faults(new Float64Array(h.counters.length)), `${h.name}: no drops, no errors`);
        t.equal(h.counters[C.txPackets], 6, `${h.name}: 3 requests and 3 replies sent`);
        t.equal(h.counters[C.rxPackets], 6, `${h.name}: and 6 received`);
      }
    });

    t.test('64 MiB each way over 1% loss, reordering and duplication', async (t) => {
      network.loss = 0.01;
      network.reorder = 0.01;
      network.duplicate = 0.002;
      network.delayMs = 0.2;
      network.reorderDelayMs = 1;
      const started = performance.now();
      let rounds = 0;
      const done = () => senderA.done && senderB.done && hostA.receiver!.done && hostB.receiver!.done;
      // Bounded in rounds and in time: a lost ack must not turn into a test that never ends.
      while (!done() && rounds < 400_000 && performance.now() - started < 120_000) {
        senderA.tick(clock.now(), 96, injector(a));
        senderB.tick(clock.now(), 96, injector(b));
        pair.settle();
        drain();
        pair.settle();
        drain();
        clock.advance(TICK_MS);
        rounds++;
      }
      // Let what is still in flight (held back, duplicated, acks of duplicates) land before counting.
      for (let i = 0; i < 5; i++) {
        clock.advance(network.delayMs + network.reorderDelayMs);
        pair.settle();
        drain();
      }
      const seconds = (performance.now() - started) / 1000;
      t.comment(
        `${backend}: ${rounds} rounds, ${seconds.toFixed(1)} s; network ${JSON.stringify(network.stats)}; retransmitted ${senderA.retransmitted}+${senderB.retransmitted}`,
      );
      t.ok(done(), 'both transfers completed');
      t.equal(hostA.receiver!.hash.digest('hex'), senderB.hash.digest('hex'), 'b → a: SHA-256 of what arrived is that of what was sent');
      t.equal(hostB.receiver!.hash.digest('hex'), senderA.hash.digest('hex'), 'a → b: SHA-256 of what arrived is that of what was sent');
      t.ok(CHUNKS * CHUNK >= TRANSFER_BYTES, `${CHUNKS} chunks of ${CHUNK} bytes: at least 64 MiB`);
      t.ok(network.stats.lost > 0 && network.stats.reordered > 0 && network.stats.duplicated > 0, 'the network did lose, reorder and duplicate');
      t.ok(senderA.retransmitted > 0 && senderB.retransmitted > 0, 'and the transfers had to retransmit');
      for (const [h, host] of [
        [a, hostA],
        [b, hostB],
      ] as const) {
        t.same(faults(h.counters), faults(new Float64Array(h.counters.length)), `${h.name}: no drops, no errors in the engine`);
        t.equal(host.badPackets, 0, `${h.name}: every packet its TUN delivered was well-formed and addressed to it`);
      }
      // Every datagram the network delivered was received and written to the TUN, and nothing else.
      t.equal(a.counters[C.rxPackets] + b.counters[C.rxPackets], network.stats.delivered, 'rxPackets add up to the datagrams delivered');
      t.equal(a.counters[C.txPackets] + b.counters[C.txPackets], network.stats.sent, 'txPackets add up to the datagrams sent');
    });
  });
}
