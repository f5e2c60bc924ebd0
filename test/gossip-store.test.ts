// The gossip store as the daemon sees it: the leases it hands over.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { GossipStore } from '../src/gossip/gossip-store.js';
import type { BackendType } from '../src/lease/lease.js';

const network = (backendType: BackendType) => ({
  network: '198.18.0.0/16', subnetLen: 24, subnetMin: '198.18.1.0', subnetMax: '198.18.255.0', backendType,
});

async function ownLease(t: Test, backendType: BackendType) {
  const store = await GossipStore.open({
    bind: '127.0.0.1:0', hostId: `h-${backendType}`, keys: [randomBytes(32).toString('base64')], label: 'test', network: network(backendType), preset: 'local',
  });
  t.teardown(() => store.close());
  const backendData = backendType === 'vxlan' ? { VtepMAC: '02:00:5e:00:53:01', VNI: 1 } : {};
  return store.acquire({ publicIP: '192.0.2.1', backendType, backendData });
}

// Only tulle hosts gossip, and they always send UDP checksums: a receiver trusts them as it trusts a
// static peer with `udpChecksum: true`, instead of verifying every inner TCP segment again.
t.test('leases from gossip say that their host checksums its datagrams', async (t) => {
  for (const backendType of ['udp', 'vxlan'] as const) {
    const lease = await ownLease(t, backendType);
    t.equal(lease.backendData.UDPChecksum, true, `${backendType}: UDPChecksum`);
  }
  const hostGw = await ownLease(t, 'host-gw');
  t.equal(hostGw.backendData.UDPChecksum, undefined, 'host-gw sends no datagrams: no flag');
});
