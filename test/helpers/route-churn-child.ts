// Runs inside one host's namespace: an Engine whose routes are republished at a
// high rate while UDP flows with sequence numbers cross the overlay. The true
// owner of every host subnet never changes; only the peers' positions in the
// table do (decoy peers come and go, the order is shuffled on every publish).
// Prints one JSON line: what was sent per destination host, what arrived per
// source host, the engine's counters and the number of publishes.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { startEngine } from './engine.js';
import { RouteSnapshot, type Peer, type Route } from '../../src/engine/routes.js';
import * as wire from '@tulle/wire';

export interface ChurnPlan {
  index: number;
  /** Underlay address of every host, by host index. */
  hosts: string[];
  /** Underlay addresses a decoy namespace holds: peers nobody should ever send to. */
  decoys: string[];
  durationMs: number;
  publishesPerSecond: number;
  packetsPerSecond: number;
  /** Destination addresses per host (198.18.<host+1>.10 onwards). */
  addressesPerHost: number;
  threads: 1 | 2;
  /** udp: the payload is the inner packet; vxlan: each peer's template carries its own VTEP MAC. */
  backend: 'udp' | 'vxlan';
}

export interface ChurnReport {
  index: number;
  /** Datagrams sent to each host (by host index). */
  sent: number[];
  /** Datagrams that arrived from each host (by host index), each at an address of ours. */
  received: number[];
  /** Datagrams that arrived at an address they were not sent to (always 0 unless something is very wrong). */
  wrongAddress: number;
  publishes: number;
  counters: Record<string, number>;
  /**
   * Our datagrams the kernel dropped before the engine read them, in all (not per flow): tl0's queue discipline
   * and TUN ring when the engine thread falls behind (a loaded machine), and sends refused with an error.
   */
  dropsBeforeEngine: number;
}

const plan = JSON.parse(process.argv[2]) as ChurnPlan;
const me = plan.index;
const subnetOf = (host: number) => `198.18.${host + 1}.0/24`;
const addressOf = (host: number, k: number) => `198.18.${host + 1}.${10 + k}`;
const PORT = 9000;
const LISTEN = plan.backend === 'vxlan' ? 4789 : 8285;
/** VTEP MACs: host h is 02:00:00:00:00:<h+1>, decoy k is 02:00:00:00:01:<k>. */
const hostMac = (h: number) => `02:00:00:00:00:${(h + 1).toString(16).padStart(2, '0')}`;
const decoyMac = (k: number) => `02:00:00:00:01:${k.toString(16).padStart(2, '0')}`;

const sh = (...args: string[]) => execFileSync(args[0], args.slice(1), { encoding: 'utf8' });

// A small seeded generator: each host churns differently, and a run can be repeated.
let seed = 0x9e3779b9 ^ (me * 0x85ebca6b);
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 0x100000000;
};
const shuffle = <T>(items: T[]) => {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
};

const templateTo = (mac: string) => (plan.backend === 'vxlan' ? wire.vxlan.template({ vni: 1, srcMac: hostMac(me), dstMac: mac }) : wire.udpBackend.template());
const others = plan.hosts.map((_, i) => i).filter((i) => i !== me);

/** One routing state: every other host owns its subnet; a random set of decoys, in a random order. */
function churn(snapshot: RouteSnapshot): void {
  type Entry = { peer: Peer; subnets: string[] };
  const entries: Entry[] = others.map((h) => ({ peer: { address: plan.hosts[h], port: LISTEN, template: templateTo(hostMac(h)) }, subnets: [subnetOf(h)] }));
  plan.decoys.forEach((address, k) => {
    // A decoy owns a subnet nobody sends to (198.18.100+k.0/24); about half of them are present at a time.
    if (random() < 0.5) entries.push({ peer: { address, port: LISTEN, template: templateTo(decoyMac(k)) }, subnets: [`198.18.${100 + k}.0/24`] });
  });
  shuffle(entries);
  const routes: Route[] = shuffle(entries.flatMap((e, i) => e.subnets.map((subnet) => ({ subnet, peer: i }))));
  snapshot.publish(
    entries.map((e) => e.peer),
    routes,
  );
}

const snapshot = new RouteSnapshot();
churn(snapshot);
const engine = await startEngine(
  {
    tunName: 'tl0',
    listenAddress: plan.hosts[me],
    listenPort: LISTEN,
    backend: plan.backend,
    vni: 1,
    subnet: subnetOf(me),
    mtu: plan.backend === 'vxlan' ? 1450 : 1472,
    threads: plan.threads,
  },
  snapshot,
);
const own = addressOf(me, 0).replace(/\.10$/, '.1');
// IPv4 only: the kernel's own IPv6 chatter on a new link would be counted as dropped for want of a route.
sh('sysctl', '-q', '-w', 'net.ipv6.conf.tl0.disable_ipv6=1');
sh('ip', 'link', 'set', 'tl0', 'up', 'mtu', plan.backend === 'vxlan' ? '1450' : '1472');
sh('ip', 'addr', 'add', `${own}/32`, 'dev', 'tl0');
sh('ip', 'route', 'add', '198.18.0.0/16', 'dev', 'tl0', 'src', own);
// Every address of our subnet is local: the receivers below bind to several of them.
sh('ip', 'route', 'replace', 'local', subnetOf(me), 'dev', 'lo');

const received = plan.hosts.map(() => 0);
let wrongAddress = 0;
const receivers = await Promise.all(
  Array.from(
    { length: plan.addressesPerHost },
    (_, k) =>
      new Promise<dgram.Socket>((resolve) => {
        const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
        socket.on('message', (msg) => {
          if (msg.length < 12) return;
          const from = msg.readUInt32BE(0);
          const to = msg.readUInt32BE(4);
          if (to !== me * 1000 + k || from >= received.length) wrongAddress++;
          else received[from]++;
        });
        socket.bind(PORT, addressOf(me, k), () => resolve(socket));
      }),
  ),
);
const sender = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
await new Promise<void>((resolve) => sender.bind(0, own, resolve));

process.stdout.write('ready\n');
await new Promise<void>((resolve) => {
  const lines = createInterface({ input: process.stdin });
  lines.once('line', () => {
    lines.close();
    resolve();
  });
});

let sendErrors = 0;
/** tl0's TX drops (TUN ring full) + its queue discipline's drops + refused sends. */
function dropsBeforeEngine(): number {
  const link = JSON.parse(sh('ip', '-s', '-j', 'link', 'show', 'dev', 'tl0')) as { stats64: { tx: { dropped: number } } }[];
  const qdiscs = JSON.parse(sh('tc', '-s', '-j', 'qdisc', 'show', 'dev', 'tl0')) as { drops?: number }[];
  return link[0].stats64.tx.dropped + qdiscs.reduce((sum, q) => sum + (q.drops ?? 0), 0) + sendErrors;
}

// Traffic and churn together, both bounded in count and time.
const sent = plan.hosts.map(() => 0);
let publishes = 0;
const start = Date.now();
const totalPackets = Math.floor((plan.durationMs / 1000) * plan.packetsPerSecond);
const totalPublishes = Math.floor((plan.durationMs / 1000) * plan.publishesPerSecond);
let seq = 0;
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = Date.now() - start;
    const due = Math.min(totalPublishes, Math.floor((elapsed * plan.publishesPerSecond) / 1000));
    for (let n = 0; publishes < due && n < 50; n++, publishes++) churn(snapshot);
    const packetsDue = Math.min(totalPackets, Math.floor((elapsed * plan.packetsPerSecond) / 1000));
    for (let n = 0; seq < packetsDue && n < 200; n++, seq++) {
      const host = others[seq % others.length];
      const k = Math.floor(seq / others.length) % plan.addressesPerHost;
      const msg = Buffer.alloc(64);
      msg.writeUInt32BE(me, 0);
      msg.writeUInt32BE(host * 1000 + k, 4);
      msg.writeUInt32BE(seq, 8);
      sent[host]++;
      sender.send(msg, PORT, addressOf(host, k), (error) => {
        if (error) sendErrors++;
      });
    }
    if (elapsed > plan.durationMs + 5000 || (seq >= totalPackets && publishes >= totalPublishes)) {
      clearInterval(timer);
      resolve();
    }
  }, 1);
});
// The last datagrams (ours to others, others' to us) are still on their way: wait, then report.
await new Promise((resolve) => setTimeout(resolve, 3000));
const report: ChurnReport = { index: me, sent, received, wrongAddress, publishes, counters: engine.counters(), dropsBeforeEngine: dropsBeforeEngine() };
process.stdout.write(JSON.stringify(report) + '\n');
for (const socket of [sender, ...receivers]) socket.close();
await engine.stop();
process.exit(0); // stdin is still open
