#!/usr/bin/env node
/**
 * One gossip peer as a process, for labs and tests: opens a GossipStore from
 * the JSON options in argv[2], acquires a lease, and prints one JSON line per
 * event on stdout (wall-clock ms in `t`). SIGTERM/SIGINT leave gracefully
 * (the lease is released); SIGKILL is a crash.
 *
 *   node dist/src/gossip/peer-main.js '{"bind":"127.0.0.1:0","keys":[…],…,"publicIP":"192.0.2.1"}'
 */
import { GossipStore, type GossipStoreOptions } from './gossip-store.js';

const out = (o: object) => process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error('usage: peer-main.js <json options>');
  const o = JSON.parse(raw) as GossipStoreOptions & { publicIP: string; backendType?: 'udp' | 'vxlan' | 'host-gw' };
  const store = await GossipStore.open({
    ...o,
    log: (level, msg, fields) => process.stderr.write(`${level} ${msg} ${fields ? JSON.stringify(fields) : ''}\n`),
  });
  out({ event: 'up', hostId: store.hostId, addr: store.address });
  const lease = await store.acquire({ publicIP: o.publicIP, backendType: o.backendType ?? 'udp', backendData: {} });
  out({ event: 'lease', subnet: lease.subnet });
  let own = lease.subnet;
  store.watch((events) => {
    // Two hosts that joined at once may have claimed one subnet: the later claim moves, and says so
    // before the table change that shows it.
    const now = store.ownLease()?.subnet;
    if (now !== undefined && now !== own) out({ event: 'lease', subnet: (own = now) });
    out({
      event: 'batch',
      added: events.filter((e) => e.type === 'added').map((e) => e.lease.subnet),
      removed: events.filter((e) => e.type === 'removed').map((e) => e.lease.subnet),
    });
  });
  const stats = setInterval(() => out({ event: 'stats', counters: store.counters, members: store.members().filter((m) => m.state === 0).length }), 1000);
  stats.unref();
  let closing = false;
  const leave = async () => {
    if (closing) return;
    closing = true;
    await store.close({ release: true });
    out({ event: 'closed' });
    process.exit(0);
  };
  process.on('SIGTERM', leave);
  process.on('SIGINT', leave);
  // Keep running until a signal.
  setInterval(() => {}, 1 << 30);
}

main().catch((err: Error) => {
  process.stderr.write(`error ${err.message}\n`);
  process.exit(1);
});
