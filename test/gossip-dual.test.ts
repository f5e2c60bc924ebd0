// A dual-stack overlay on the gossip store: the IPv6 subnet pool, the IPv6 claim in the lease record
// (its wire form, old records still read), conflicts settled by the earlier IPv6 claim, restarts that
// keep the IPv6 subnet, seeded partition runs with 0 double allocations in either family, and the
// store over loopback keeping its IPv6 subnet across a restart from its state dir.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteReader, ByteWriter } from '../src/gossip/bytes.js';
import { GossipStore } from '../src/gossip/gossip-store.js';
import { compareRecords } from '../src/gossip/lease-replica.js';
import { decodeLease, encodeLease, leaseContentHash, TAG_LEASE, type LeaseRecord } from '../src/gossip/records.js';
import { SimCluster } from '../src/gossip/sim/cluster.js';
import { allocationRun, doubles, doubles6 } from '../src/gossip/sim/scenarios.js';
import { SubnetPool6 } from '../src/gossip/subnet-pool6.js';
import { HostState } from '../src/lease/state-file.js';
import type { LeaseEvent } from '../src/lease/lease.js';
import { LeaseRouter, type RouteSink } from '../src/daemon/lease-router.js';
import { pino } from 'pino';

const net = { network: '198.18.0.0/16', subnetLen: 24, subnetMin: '198.18.1.0', subnetMax: '198.18.255.0', backendType: 'udp' as const };

t.test('the IPv6 subnet pool: the first subnet skipped, canonical text, errors naming the key', async (t) => {
  const p = new SubnetPool6({ network: '2001:db8:18::/48', subnetLen: 64 });
  t.equal(p.size, 65535);
  t.equal(p.at(0), '2001:db8:18:1::/64');
  t.equal(p.at(65534), '2001:db8:18:ffff::/64');
  t.equal(p.parse('2001:DB8:18:00a::/64'), '2001:db8:18:a::/64', 'parsed to the canonical text');
  t.equal(p.parse('2001:db8:18::/64'), undefined, "the network's own first subnet is not leased");
  t.equal(p.parse('2001:db8:19:1::/64'), undefined, 'outside the network');
  t.equal(p.parse('2001:db8:18:1::/80'), undefined, 'another length');
  t.equal(p.parse('2001:db8:18:1::1/64'), undefined, 'host bits');
  t.equal(p.parse('198.18.1.0/24'), undefined, 'IPv4');
  t.ok(p.contains('2001:db8:18:2a::/64'));
  t.notOk(p.contains('2001:db8:18:002a::/64'), 'contains() takes the canonical text only');
  t.equal(new SubnetPool6({ network: 'fd00::/8', subnetLen: 64 }).size, 2 ** 32, 'at most 2^32 leasable');
  t.equal(new SubnetPool6({ network: '2001:db8:18::/62', subnetLen: 64 }).size, 3);
  t.throws(() => new SubnetPool6({ network: '198.18.0.0/16', subnetLen: 64 }), /ipv6Network "198.18.0.0\/16": must be an IPv6 CIDR/);
  t.throws(() => new SubnetPool6({ network: '2001:db8:18::1/48', subnetLen: 64 }), /ipv6Network "2001:db8:18::1\/48": .*host bits/);
  t.throws(
    () => new SubnetPool6({ network: '2001:db8:18::/48', subnetLen: 48 }),
    /ipv6SubnetLen 48: must be an integer in 49..126 for ipv6Network 2001:db8:18::\/48/,
  );
  t.throws(() => new SubnetPool6({ network: '2001:db8:18::/48', subnetLen: 127 }), /ipv6SubnetLen 127: must be an integer in 49..126/);
});

const v4: LeaseRecord = {
  hostId: 'h1',
  subnet: 0xc6120100,
  claimedAt: 1000,
  version: 3,
  expiresAt: 90000,
  released: false,
  publicIP: '192.0.2.1',
  backend: 1,
  vtepMac: '02:00:5e:00:53:01',
  vni: 1,
  port: 8472,
};
const encode = (r: LeaseRecord): Uint8Array => {
  const w = new ByteWriter(256);
  encodeLease(w, r);
  return w.take();
};
const decode = (bytes: Uint8Array): LeaseRecord | undefined => {
  const r = new ByteReader(bytes);
  if (r.u8() !== TAG_LEASE) return undefined;
  return decodeLease(r);
};

t.test('the IPv6 claim on the wire: round trip, IPv4-only records as before, malformed ones refused', async (t) => {
  // What a peer without IPv6 allocation wrote for this record (and still writes, and reads).
  const before = '02026831c6120100408f4000000000000000000340f5f900000000000e093139322e302e322e310102005e005301000000012118';
  t.equal(Buffer.from(encode(v4)).toString('hex'), before, 'an IPv4-only record: the same bytes');
  t.same(decode(Buffer.from(before, 'hex')), v4, 'and they decode to the same record');
  const dual: LeaseRecord = { ...v4, ipv6Subnet: '2001:db8:18:7::/64', ipv6ClaimedAt: 2500.5 };
  const bytes = encode(dual);
  t.same(decode(bytes), dual, 'a dual-stack record round-trips');
  t.equal(decode(encode({ ...v4, ipv6Subnet: '2001:db8:18:7::/64' }))?.ipv6ClaimedAt, undefined, 'an IPv6 subnet without a claim time stays without');
  // The flags byte sits after tag, host id, subnet, claim time, version, expiry.
  const flagsAt = 1 + 1 + 2 + 4 + 8 + 4 + 8;
  t.equal(bytes[flagsAt] & 96, 96, 'the subnet text and the claim-time flag');
  const unknown = Uint8Array.from(bytes);
  unknown[flagsAt] |= 128;
  t.equal(decode(unknown), undefined, 'an unknown flag: malformed');
  const orphan = Uint8Array.from(bytes);
  orphan[flagsAt] &= ~32;
  t.equal(decode(orphan), undefined, 'a claim time without its subnet: malformed');
  t.equal(decode(bytes.subarray(0, bytes.length - 3)), undefined, 'truncated claim time: malformed');
  t.equal(leaseContentHash(7, v4), leaseContentHash(7, { ...v4, ipv6Subnet: undefined }), 'IPv4-only: the digest fingerprint as before');
  t.not(leaseContentHash(7, dual), leaseContentHash(7, { ...dual, ipv6ClaimedAt: 2600 }), 'the IPv6 claim time is in the fingerprint');
  t.not(compareRecords(dual, { ...dual, ipv6ClaimedAt: 2600 }), 0, 'two records apart in their IPv6 claim only are ordered');
  t.equal(Math.sign(compareRecords(dual, v4)), 1, 'one with an IPv6 claim after one without');
});

const net6 = (bits: number) => ({ network: `2001:db8:18::/${64 - bits}`, subnetLen: 64 });

t.test('joining hosts get distinct IPv6 subnets, every table agrees, restarts keep them', async (t) => {
  const c = new SimCluster({ nodes: 12, seed: 41, converged: false, network: net, network6: net6(4) });
  c.run(20_000);
  const subnets6 = c.slots.map((s) => s.replica!.own!.ipv6Subnet!);
  t.equal(new Set(subnets6).size, 12, `distinct (${subnets6.slice(0, 3).join(', ')} …)`);
  t.ok(
    subnets6.every((s) => c.pool6!.contains(s)),
    'inside the IPv6 pool',
  );
  for (const s of c.slots) for (const o of c.slots) t.equal(s.replica!.winner6(o.replica!.own!.ipv6Subnet!)?.hostId, o.id);
  const before = c.slots[5].replica!.own!;
  c.restart(5, false);
  c.run(6_000);
  const after = c.slots[5].replica!.own!;
  t.equal(after.ipv6Subnet, before.ipv6Subnet, 'the same IPv6 subnet after losing its state: the peers remembered it');
  t.equal(after.ipv6ClaimedAt, before.ipv6ClaimedAt, 'with its claim time, so it still wins');
  c.crash(6);
  c.run(10_000);
  const six = c.slots[6].saved!;
  c.restart(6, true);
  c.run(6_000);
  t.equal(c.slots[6].replica!.own!.ipv6Subnet, six.ipv6Subnet, 'the same IPv6 subnet after a restart that kept its state');
  t.equal(doubles6(c), 0);
});

// Seven hosts in a /61 of /64s (7 subnets): apart, two newcomers take the last free IPv6 subnet each on
// its side, then a host on the later one's side leaves. After the heal the earlier claim keeps the
// subnet and the later one moves to the released one; the IPv4 leases are not touched by it.
t.test('a conflict on an IPv6 subnet: the earlier claim holds it, the other moves', async (t) => {
  const c = new SimCluster({ nodes: 6, seed: 42, network: net, network6: net6(3) });
  c.run(2_000);
  c.partition((i) => (i < 3 ? 0 : 1));
  const early = c.addNode(0);
  c.run(3_000);
  const late = c.addNode(1);
  c.run(3_000);
  const contested = early.replica!.own!.ipv6Subnet!;
  t.equal(late.replica!.own!.ipv6Subnet, contested, `both newcomers claim ${contested} while apart`);
  t.equal(doubles6(c), 1, 'a double allocation while apart');
  const released6 = c.slots[4].replica!.own!.ipv6Subnet!;
  c.leave(4);
  c.run(3_000);
  const late4 = late.replica!.own!.subnet;
  const early4 = early.replica!.own!.subnet;
  c.heal();
  c.run(15_000);
  t.equal(doubles6(c), 0, 'none after the heal');
  t.equal(doubles(c), 0, 'nor of IPv4 subnets');
  t.equal(early.replica!.own!.ipv6Subnet, contested, 'the earlier claim keeps it');
  t.equal(late.replica!.own!.ipv6Subnet, released6, 'the later one moved to the subnet the leaver released');
  t.equal(late.replica!.conflictsLost6, 1, 'one IPv6 move');
  t.equal(late.replica!.conflictsLost + early.replica!.conflictsLost, 0, 'no IPv4 move');
  t.equal(late.replica!.own!.subnet, late4, 'its IPv4 subnet stays');
  t.equal(early.replica!.own!.subnet, early4);
  for (const s of c.live()) {
    t.equal(s.replica!.winner6(contested)?.hostId, early.id, `${s.id}: ${contested} is the earlier claim's`);
    t.equal(s.replica!.winner6(released6)?.hostId, late.id, `${s.id}: ${released6} is the mover's`);
  }
});

t.test('seeded partition / heal / restart runs, dual-stack: no subnet of either family held by two hosts', async (t) => {
  const runs = Number(process.env.GOSSIP_ALLOC_RUNS ?? 300);
  const sum = { doubles: 0, mismatches: 0, unleased: 0, doubles6: 0, mismatches6: 0, unleased6: 0, moves6: 0, late: 0 };
  for (let seed = 1; seed <= runs; seed++) {
    const r = allocationRun(seed, { ipv6: true });
    sum.doubles += r.doubleAllocations;
    sum.mismatches += r.viewMismatches;
    sum.unleased += r.unleased;
    sum.doubles6 += r.ipv6.doubleAllocations;
    sum.mismatches6 += r.ipv6.viewMismatches;
    sum.unleased6 += r.ipv6.unleased;
    sum.moves6 += r.ipv6.moves;
    if (r.settleS > 2) sum.late++;
  }
  t.equal(sum.doubles6, 0, `IPv6 double allocations after ${runs} runs`);
  t.equal(sum.doubles, 0, 'IPv4 double allocations');
  t.equal(sum.mismatches6, 0, 'every node routes each held IPv6 subnet to its holder');
  t.equal(sum.mismatches, 0, 'and each IPv4 subnet');
  t.equal(sum.unleased6, 0, 'every leased host has an IPv6 subnet');
  t.equal(sum.unleased, 0, 'every running host has a lease');
  t.ok(sum.moves6 > runs / 10, `IPv6 conflicts happened (${sum.moves6} moves) and were settled`);
  t.equal(sum.late, 0, 'both families settled within 2 s of the heal in every run');
});

t.test('the store over loopback: leases carry the IPv6 subnet, kept across restarts from the state dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-gossip-dual-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keys = [randomBytes(32).toString('base64')];
  const ipv6Network = { network: '2001:db8:18::/56', subnetLen: 64 };
  const open = (name: string, seeds: string[] = []) =>
    GossipStore.open({ bind: '127.0.0.1:0', seeds, keys, label: 'dual', network: net, ipv6Network, stateDir: join(dir, name), preset: 'local' });
  const a = await open('a');
  t.teardown(() => a.close());
  const la = await a.acquire({ publicIP: '192.0.2.1', backendType: 'udp', backendData: {} });
  let b = await open('b', [a.address]);
  const lb = await b.acquire({ publicIP: '192.0.2.2', backendType: 'udp', backendData: {} });
  t.ok(a.pool6!.contains(la.ipv6Subnet!) && a.pool6!.contains(lb.ipv6Subnet!), `IPv6 subnets ${la.ipv6Subnet}, ${lb.ipv6Subnet}`);
  t.not(la.ipv6Subnet, lb.ipv6Subnet);
  const seen = new Map<string, string | undefined>();
  const stop = a.watch((events) => {
    for (const e of events) if (e.type === 'added') seen.set(e.lease.subnet, e.lease.ipv6Subnet);
  });
  for (let i = 0; i < 100 && seen.get(lb.subnet) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
  stop();
  t.equal(seen.get(lb.subnet), lb.ipv6Subnet, "a's table has b's IPv6 subnet");
  const saved = new HostState(join(dir, 'b')).storeRecord('gossip') as LeaseRecord;
  t.equal(saved.ipv6Subnet, lb.ipv6Subnet, 'the state file keeps the IPv6 claim');
  // As after kill -9: no release, nothing said; the state file is what was saved at acquire.
  await b.close();
  b = await open('b');
  const alone = await b.acquire({ publicIP: '192.0.2.2', backendType: 'udp', backendData: {} });
  t.equal(alone.ipv6Subnet, lb.ipv6Subnet, 'restarted with no peer reachable: the same IPv6 subnet, from the state file');
  t.equal(alone.subnet, lb.subnet);
  await b.close();
  b = await open('b', [a.address]);
  t.teardown(() => b.close());
  const back = await b.acquire({ publicIP: '192.0.2.2', backendType: 'udp', backendData: {} });
  t.equal(back.ipv6Subnet, lb.ipv6Subnet, 'restarted among its peers: the same IPv6 subnet');
  // A host that lost its state dir but keeps its host id: the peers remember its claim.
  const lost = await GossipStore.open({
    bind: '127.0.0.1:0',
    seeds: [a.address],
    keys,
    label: 'dual',
    network: net,
    ipv6Network,
    hostId: new HostState(join(dir, 'b')).hostId(),
    preset: 'local',
  });
  await b.close();
  t.teardown(() => lost.close());
  const remembered = await lost.acquire({ publicIP: '192.0.2.2', backendType: 'udp', backendData: {} });
  t.equal(remembered.ipv6Subnet, lb.ipv6Subnet, 'state lost, host id kept: the peers give the IPv6 subnet back');
});

t.test('without an IPv6 network the store allocates none, and ignores what peers claim', async (t) => {
  const keys = [randomBytes(32).toString('base64')];
  const dual = await GossipStore.open({
    bind: '127.0.0.1:0',
    hostId: 'dual',
    keys,
    label: 'mixed',
    network: net,
    ipv6Network: { network: '2001:db8:18::/56', subnetLen: 64 },
    preset: 'local',
  });
  t.teardown(() => dual.close());
  const ld = await dual.acquire({ publicIP: '192.0.2.1', backendType: 'udp', backendData: {} });
  const plain = await GossipStore.open({ bind: '127.0.0.1:0', seeds: [dual.address], hostId: 'plain', keys, label: 'mixed', network: net, preset: 'local' });
  t.teardown(() => plain.close());
  const lp = await plain.acquire({ publicIP: '192.0.2.2', backendType: 'udp', backendData: {} });
  t.equal(lp.ipv6Subnet, undefined, 'no IPv6 subnet');
  const leases = new Map<string, string | undefined>();
  plain.watch((events) => {
    for (const e of events) if (e.type === 'added') leases.set(e.lease.subnet, e.lease.ipv6Subnet);
  });
  t.ok(leases.has(ld.subnet), "the dual host's lease is routed over IPv4");
  t.equal(leases.get(ld.subnet), undefined, 'without an IPv6 subnet the host has no network for');
});

// A renewal (a new version of a held lease) is one `added` event: with a `removed` first, the daemon
// took its own renewed lease for a revoked one and stopped. A moved IPv6 subnet stops it on purpose.
t.test("the daemon's view: a renewal is one 'added' event; its own IPv6 subnet moving stops it", async (t) => {
  const store = await GossipStore.open({
    bind: '127.0.0.1:0',
    hostId: 'renews',
    keys: [randomBytes(32).toString('base64')],
    label: 'renew',
    network: net,
    ipv6Network: { network: '2001:db8:18::/56', subnetLen: 64 },
    preset: 'local',
    leaseOverrides: { leaseTtlMs: 1_500, leaseRenewBeforeMs: 1_200, leaseSweepIntervalMs: 200 },
  });
  t.teardown(() => store.close());
  const own = await store.acquire({ publicIP: '192.0.2.1', backendType: 'udp', backendData: {} });
  const events: LeaseEvent[] = [];
  store.watch((batch) => events.push(...batch));
  await new Promise((r) => setTimeout(r, 1_000));
  const mine = events.filter((e) => e.lease.subnet === own.subnet);
  t.ok(mine.length >= 2, `the initial lease and renewals (${mine.length} events)`);
  t.same(
    mine.map((e) => e.type),
    mine.map(() => 'added'),
    'all of them added, none removed',
  );
  t.equal(mine.at(-1)!.lease.ipv6Subnet, own.ipv6Subnet, 'the renewed lease keeps its IPv6 subnet');
  t.ok(mine.at(-1)!.lease.expiration > own.expiration, 'with a later expiry');

  const lost: string[] = [];
  const sink: RouteSink = { apply: () => new Map() };
  const ctx = { ownSubnet: own.subnet, backendType: 'udp' as const, networkPort: 8285, ipv6Underlay: false, ipv6Network: '2001:db8:18::/56' };
  const router = new LeaseRouter(ctx, sink, pino({ level: 'silent' }), {
    ownPublicIP: '192.0.2.1',
    ownIpv6Subnet: own.ipv6Subnet,
    onOwnLost: (why) => lost.push(why),
  });
  t.teardown(() => router.stop());
  router.onBatch(mine);
  t.same(lost, [], 'renewals do not stop the daemon');
  router.onBatch([{ type: 'added', lease: { ...own, ipv6Subnet: '2001:db8:18:ff::/64' } }]);
  t.same(lost, [`the store moved this host's IPv6 subnet ${own.ipv6Subnet} to 2001:db8:18:ff::/64`], 'a moved IPv6 subnet does');
});
