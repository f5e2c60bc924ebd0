// Path health without a network: the estimator (SRTT, the sliding one-minute loss), the path MTU search, the
// probe datagrams, the metrics' cap on the peer label, the gossip probe samples and the peers table.
import t from 'tap';
import { Registry } from 'prom-client';
import { LOSS_WINDOW_MS, PathEstimate } from '../src/daemon/path-health/estimator.js';
import { PmtuSearch, UPWARD_EVERY } from '../src/daemon/path-health/pmtu-search.js';
import { answerTo, HEADER_BYTES, PROBE, readProbe, writeProbe } from '../src/daemon/path-health/probe-message.js';
import { capPeers, OTHER_PEERS, registerPathHealthMetrics } from '../src/daemon/path-health/metrics.js';
import { PeerTable, type PeerHealthView } from '../src/daemon/path-health/peer-table.js';
import { GossipSamples, hostOf } from '../src/daemon/path-health/gossip-samples.js';
import { formatPeers } from '../src/cli/format-peers.js';
import type { Lease } from '../src/lease/lease.js';

t.test('smoothed RTT moves 1/8 of the way to each sample, as TCP SRTT', async (t) => {
  const e = new PathEstimate();
  e.answered(1_000, 8);
  t.equal(e.rttSmoothedMs, 8, 'the first sample sets it');
  e.answered(1_001, 16);
  t.equal(e.rttSmoothedMs, 9, '8 + (16 - 8) / 8');
  t.equal(e.rttLastMs, 16, 'last is the last sample');
  e.answered(1_002, 1);
  t.equal(e.rttSmoothedMs, 9 + (1 - 9) / 8);
  t.equal(e.lastSeen, 1_002);
});

t.test('loss over a sliding minute', async (t) => {
  const e = new PathEstimate();
  const start = 5_000_000;
  t.same(e.loss(start), { ratio: null, probes: 0 }, 'no probes: no ratio');
  // 10 probes a second for 30 s, every fifth lost.
  for (let i = 0; i < 300; i++) {
    const now = start + i * 100;
    if (i % 5 === 0) e.lost(now);
    else e.answered(now, 1);
  }
  t.same(e.loss(start + 30_000), { ratio: 0.2, probes: 300 }, '20% lost');
  // Then 30 s without loss: the ratio halves, the window still holds all 60 s.
  for (let i = 300; i < 600; i++) e.answered(start + i * 100, 1);
  t.same(e.loss(start + 59_999), { ratio: 0.1, probes: 600 }, 'half the window lossy: 10%');
  // A minute later the lossy half has left the window (whole seconds: the current one and the 59 before it).
  t.same(e.loss(start + 30_000 + LOSS_WINDOW_MS - 1), { ratio: 0, probes: 300 }, 'the lossy seconds age out');
  t.same(e.loss(start + 30_000 + LOSS_WINDOW_MS), { ratio: 0, probes: 290 }, 'second by second');
  t.same(e.loss(start + 120_000), { ratio: null, probes: 0 }, 'a silent minute: nothing left');
  // A bucket reused after a minute starts from zero.
  e.lost(start + 200_000);
  t.same(e.loss(start + 200_000), { ratio: 1, probes: 1 });
});

t.test('path MTU search: first round, verification, a path that narrows and widens', async (t) => {
  // A path that carries `mtu`: answers every size up to it.
  const run = (s: PmtuSearch, mtu: number) => {
    const tried: number[] = [];
    for (let size: number | undefined = s.startRound(); size !== undefined; size = s.verdict(size <= mtu)) tried.push(size);
    return tried;
  };
  const s = new PmtuSearch(576, 1500);
  t.same(run(s, 1500), [1500], 'the ceiling fits: one probe');
  t.equal(s.value, 1500);
  t.same(run(s, 1500), [1500], 'a later round verifies it with one probe');
  const narrow = run(s, 1300);
  t.equal(s.value, 1300, `a path narrowed to 1300 is found (${narrow.length} probes)`);
  t.ok(narrow.length <= 12, 'by halving');
  const rounds: number[][] = [];
  for (let i = 0; i < UPWARD_EVERY; i++) rounds.push(run(s, 1400));
  t.equal(s.value, 1400, 'a path that widened is found again by an upward search');
  t.equal(rounds.filter((r) => r.length > 1).length, 1, 'only one round in ten searches upward');
  const fresh = new PmtuSearch(576, 1500);
  run(fresh, 1000);
  t.equal(fresh.value, 1000, 'a first round below the ceiling');
  const dead = new PmtuSearch(576, 1500);
  const tried = run(dead, 0);
  t.equal(dead.value, undefined, 'nothing answered: unmeasured');
  t.equal(tried.at(-1), 576, 'the floor is tried last');
  const exact = new PmtuSearch(576, 1500);
  run(exact, 576);
  t.equal(exact.value, 576, 'the floor itself fits');
  t.throws(() => new PmtuSearch(1500, 576), /floor 1500 and ceiling 576/);
});

t.test('probe datagrams', async (t) => {
  const buf = new Uint8Array(HEADER_BYTES);
  writeProbe(buf, { type: PROBE.echo, replyPort: 7947, seq: 0xfffffffe, received: 0 });
  const m = readProbe(buf)!;
  t.same(m, { type: PROBE.echo, replyPort: 7947, seq: 0xfffffffe, received: 0 });
  t.same(answerTo(m, 16), { type: PROBE.echoAnswer, replyPort: 7947, seq: 0xfffffffe, received: 16 });
  t.same(answerTo({ ...m, type: PROBE.mtu }, 1472), { type: PROBE.mtuAnswer, replyPort: 7947, seq: 0xfffffffe, received: 1472 });
  t.equal(answerTo({ ...m, type: PROBE.echoAnswer }, 16), undefined, 'an answer is not answered');
  t.equal(readProbe(buf.subarray(0, 15)), undefined, 'short');
  const bad = buf.slice();
  bad[0] = 0;
  t.equal(readProbe(bad), undefined, 'wrong magic');
  const noPort = buf.slice();
  noPort[6] = 0;
  noPort[7] = 0;
  t.equal(readProbe(noPort), undefined, 'no port to answer to');
  const badType = buf.slice();
  badType[5] = 9;
  t.equal(readProbe(badType), undefined, 'unknown type');
});

function view(i: number, loss: number | null, srtt: number | null, mtu: number | null = 1500): PeerHealthView {
  return {
    peer: `198.18.${i}.0/24`,
    address: `192.0.2.${i}`,
    source: 'probe',
    rttMs: srtt,
    rttSmoothedMs: srtt,
    lossRatio: loss,
    probes: 60,
    pathMtu: mtu,
    lastSeen: null,
  };
}

t.test('the peer label is capped: the worst keep theirs, the rest fold into "other"', async (t) => {
  const views = Array.from({ length: 1000 }, (_, i) => view(i, 0, 1 + (i % 7) / 10));
  views[500] = view(500, 0.3, 2);
  views[900] = view(900, 0, 80);
  views[901] = view(901, 0, 1, 1300);
  views[902] = view(902, null, null, null);
  const c = capPeers(views, 256);
  t.equal(c.labelled.length, 256, '256 peers keep a label');
  t.equal(c.labelled[0].peer, '198.18.500.0/24', 'most loss first');
  t.equal(c.labelled[1].peer, '198.18.900.0/24', 'then longest smoothed RTT');
  t.equal(c.folded?.count, 744, 'the other 744 are folded');
  t.equal(c.folded?.pathMtu, 1300, 'the fold carries their lowest path MTU');
  t.equal(c.folded?.lossRatio, 0, 'and their highest loss');
  t.notOk(
    c.labelled.some((v) => v.peer === '198.18.902.0/24'),
    'an unmeasured peer is folded before a measured one',
  );
  t.equal(capPeers(views.slice(0, 10), 256).folded, undefined, 'below the cap nothing is folded');

  const registry = new Registry();
  registerPathHealthMetrics(registry, () => views, 256);
  const text = await registry.metrics();
  for (const name of ['tulle_peer_rtt_seconds', 'tulle_peer_rtt_smoothed_seconds', 'tulle_peer_loss_ratio', 'tulle_peer_path_mtu_bytes']) {
    const series = text.split('\n').filter((l) => l.startsWith(`${name}{`));
    t.ok(series.length <= 257, `${name}: ${series.length} series for 1,000 peers (at most 257)`);
    t.ok(
      series.some((l) => l.includes(`peer="${OTHER_PEERS}"`)),
      `${name}: the folded peers as peer="other"`,
    );
  }
  t.match(text, /^tulle_peer_health_folded 744$/m, 'how many are folded');
  t.match(text, /^tulle_peer_loss_ratio\{peer="198\.18\.500\.0\/24"\} 0\.3$/m, 'the lossy peer has its own series');
  t.match(text, /^tulle_peer_path_mtu_bytes\{peer="other"\} 1300$/m);
});

const lease = (subnet: string, publicIP: string): Lease => ({ subnet, publicIP, backendType: 'vxlan', backendData: {}, expiration: Infinity });

t.test('the peers table follows the leases; gossip probes feed it', async (t) => {
  const table = new PeerTable('gossip');
  table.follow([lease('198.18.1.0/24', '192.0.2.1'), lease('198.18.2.0/24', '192.0.2.2'), lease('198.18.3.0/24', '192.0.2.3')], '198.18.1.0/24');
  t.same(
    table.views(0).map((v) => v.peer),
    ['198.18.2.0/24', '198.18.3.0/24'],
    'own subnet left out',
  );
  const samples = new GossipSamples(table);
  samples.sent(1, '192.0.2.2:7946');
  samples.acked(1);
  samples.sent(2, '192.0.2.2:7946');
  samples.missed(2);
  samples.acked(2); // a late ack after the timeout: not counted again
  samples.sent(3, '192.0.2.3:7946');
  samples.acked(3);
  const [b, c] = table.views(Date.now());
  t.equal(b.lossRatio, 0.5, 'one of two probes lost');
  t.equal(b.probes, 2);
  t.ok(b.rttMs !== null && b.rttMs >= 0, 'a round-trip time');
  t.equal(c.lossRatio, 0);
  t.equal(b.source, 'gossip');
  const estimate = table.get('192.0.2.2')!.estimate;
  table.follow([lease('198.18.2.0/24', '192.0.2.2')], '198.18.1.0/24');
  t.equal(table.size, 1, 'a peer whose lease went is forgotten');
  t.equal(table.get('192.0.2.2')!.estimate, estimate, 'a peer that stays keeps its estimate');
  t.equal(hostOf('[2001:db8::1]:7946'), '2001:db8::1');
  t.equal(hostOf('192.0.2.9:7946'), '192.0.2.9');
});

t.test('status --peers table', async (t) => {
  const now = Date.parse('2026-01-01T00:00:10Z');
  const text = formatPeers([{ ...view(2, 0.2, 0.42), rttMs: 0.5, lastSeen: '2026-01-01T00:00:08Z' }, view(3, null, null, null)], now);
  const [header, first, second] = text.split('\n');
  t.match(header, /^PEER\s+ADDRESS\s+RTT MS\s+SRTT MS\s+LOSS 1M\s+PROBES\s+PATH MTU\s+LAST SEEN\s+FROM$/);
  t.match(first, /^198\.18\.2\.0\/24\s+192\.0\.2\.2\s+0\.50\s+0\.42\s+20\.0%\s+60\s+1500\s+2 s ago\s+echo probes$/);
  t.match(second, /^198\.18\.3\.0\/24\s+192\.0\.2\.3\s+-\s+-\s+-\s+60\s+-\s+never\s+echo probes$/);
  t.equal(formatPeers([]), 'no peers');
});

t.test('MTU prober: silence from a peer that is down is no verdict; a black hole above 1300 is', async (t) => {
  const { MtuProber } = await import('../src/daemon/path-health/mtu-prober.js');
  const { readProbe } = await import('../src/daemon/path-health/probe-message.js');
  type Send = { address: string; seq: number; length: number };
  let sent: Send[] = [];
  let kernelMtu = Infinity; // sizes above it: EMSGSIZE, as after an ICMP "fragmentation needed"
  const native = {
    udpOpen: () => 99,
    udpSendTo: (_fd: number, address: string, _port: number, bytes: Uint8Array, length: number) => {
      if (length + 28 > kernelMtu) return 90;
      sent.push({ address, seq: readProbe(bytes)!.seq, length });
      return 0;
    },
  } as unknown as import('../src/native/load.js').NativeAddon;
  const run = (pathMtu: number, up: (now: number, s: Send) => boolean, seconds: number) => {
    const table = new PeerTable('probe');
    table.follow([lease('198.18.2.0/24', '192.0.2.2')], '198.18.1.0/24');
    const prober = new MtuProber(native, table, {
      family: 4,
      localAddress: '192.0.2.1',
      port: 7947,
      replyPort: 7947,
      ceiling: 1500,
      intervalMs: 30_000,
      timeoutMs: 1000,
      tries: 3,
    });
    sent = [];
    let probes = 0;
    for (let now = 1_000_000; now < 1_000_000 + seconds * 1000; now += 100) {
      prober.tick(now);
      const batch = sent;
      sent = [];
      probes += batch.length;
      for (const s of batch) if (up(now, s) && s.length + 28 <= pathMtu) prober.answered(s.address, s.seq, s.length, now);
    }
    return { mtu: table.get('192.0.2.2')!.estimate.pathMtu, probes };
  };
  t.equal(run(1500, () => true, 5).mtu, 1500, 'a clean path: the ceiling');
  const late = run(1500, (now) => now >= 1_020_000, 40);
  t.equal(late.mtu, 1500, 'a peer that answers only after 20 s still reads the ceiling (no verdicts while it was silent)');
  let floorSent = false;
  const racing = run(
    1500,
    (_now, s) => {
      floorSent ||= s.length + 28 === 576;
      return floorSent;
    },
    10,
  );
  t.equal(racing.mtu, 1500, 'a peer that comes up while the floor checks it: its ceiling is tried again, and fits');
  const hole = run(1300, () => true, 60);
  t.equal(hole.mtu, 1300, `no ICMP, probes above 1300 vanish: 1300 (${hole.probes} probes)`);
  kernelMtu = 1300;
  const icmp = run(1300, () => true, 3);
  t.equal(icmp.mtu, 1300, 'the kernel knows 1300 already: found within 3 s');
  kernelMtu = Infinity;
  t.equal(run(1500, () => false, 30).mtu, undefined, 'a peer that never answers: unmeasured');
});

t.test('configuration: the probe port is its own, the gossip probe timeout below the period', async (t) => {
  const { crossChecks } = await import('../src/daemon/config/checks.js');
  const base = { network: '198.18.0.0/16', backend: { type: 'udp' } };
  const messages = (input: object) => crossChecks(input).map((p) => `${p.path.join('.')}: ${p.message}`);
  t.same(messages(base), [], 'the defaults are apart');
  t.same(messages({ ...base, pathHealth: { port: 8285 } }), ["pathHealth.port: is the udp backend's port too: the path probe needs a UDP port of its own"]);
  const gossip = { ...base, store: { type: 'gossip', key: '00112233445566778899aabbccddeeff', port: 7000 } };
  t.same(messages({ ...gossip, pathHealth: { port: 7000 } }), ['pathHealth.port: is store.port (gossip) too: the path probe needs a UDP port of its own']);
  t.same(messages({ ...gossip, store: { ...gossip.store, probeIntervalMs: 300 } }), [], 'a shorter period, still above the preset timeout (250 ms)');
  t.same(messages({ ...gossip, store: { ...gossip.store, preset: 'local', probeIntervalMs: 150 } }), [
    'store.probeIntervalMs: gives a probe timeout of 200 ms and a protocol period of 150 ms: the timeout must be shorter',
  ]);
  t.same(messages({ ...gossip, store: { ...gossip.store, probeIntervalMs: 50, probeTimeoutMs: 50 } }), [
    'store.probeTimeoutMs: gives a probe timeout of 50 ms and a protocol period of 50 ms: the timeout must be shorter',
  ]);
});
