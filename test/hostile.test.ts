// Bad datagrams at a live host, bounded (`npm run hostile` sends a million to each port): while a hashed
// TCP stream crosses the vxlan overlay between two gossip hosts, a third namespace sends 20,000 bad
// datagrams to the data port and 20,000 to the gossip port (random bytes, mutated captured frames,
// forged, replayed and oversize gossip, some from the peer's spoofed address). No crash, the stream
// arrives whole, and every bad datagram is counted under the reason it was sent for.
import t from 'tap';
import { accounted, runHostile } from '../bench/hostile-run.js';

if (process.getuid?.() !== 0) {
  t.fail('this test needs root (CI runs as root)');
} else {
  t.test('20,000 bad datagrams to each port during a hashed transfer', async (t) => {
    const r = await runHostile({ datagrams: 20_000, dataRate: 100_000, gossipRate: 25_000, baselineSeconds: 3 });
    t.equal(r.crashes, 0, 'no daemon crashed');
    t.equal(
      r.hashMismatches,
      0,
      `both streams arrived whole (${r.stream.baseline.mbitPerSecond.toFixed(0)} Mbit/s, ${r.stream.attacked.mbitPerSecond.toFixed(0)} under attack)`,
    );
    t.ok(r.stream.attacked.bytes > 0, 'the stream moved while under attack');
    t.equal(r.baselineDrops, 0, 'no legitimate datagram is counted as bad');
    for (const a of r.accounting) {
      t.equal(a.sent, 20_000, `${a.port}: the attacker sent them all`);
      // Exact, or (data port, its socket overflowed) over by the peer's own datagrams the kernel dropped with them.
      t.ok(accounted(a), `${a.port}: every one is counted: ${a.unexplained} unexplained, ${a.overflow} socket overflows (${JSON.stringify(a.counted)})`);
    }
    t.same(r.socketDrops.metric, r.socketDrops.proc, `/metrics tulle_socket_drops_total agrees with /proc/net/udp (${JSON.stringify(r.socketDrops.proc)})`);
    // Without a socket overflow, each reason grew by exactly what was sent for it.
    const data = r.accounting.find((a) => a.port === 'data')!;
    if (data.counted['kernel.socketChecksum+overflow'] === data.expected['kernel.socketChecksum+overflow']) {
      for (const [counter, n] of Object.entries(data.expected)) t.equal(data.counted[counter], n, `data: ${counter} grew by the ${n} sent for it`);
    }
    const gossip = r.accounting.find((a) => a.port === 'gossip')!;
    const overflow = gossip.counted['kernel.socketOverflow'];
    for (const [counter, n] of Object.entries(gossip.expected)) {
      t.ok(
        gossip.counted[counter] <= n && gossip.counted[counter] >= n - overflow,
        `gossip: ${counter} grew by ${gossip.counted[counter]} of ${n} (${overflow} lost at the full socket)`,
      );
    }
  });
}
