// The host layer's udpTunnelGso decision (src/daemon/whole-super-packets.ts),
// on a table of host answers instead of ethtool and the firewalls: when it is
// asked at all, each reason it is refused for, in order, and the log line's
// level; the backend is not among them (vxlan and udp alike send whole). The
// real-kernel side (the TAP, rp_filter, an nftables drop policy, a veth
// without tunnel segmentation) is in test/vxlan-whole.test.ts and
// test/udp-whole.test.ts.
import t from 'tap';
import {
  decideWholeSuperPackets,
  wholeSuperPacketsOffNote,
  type WholeSuperPacketsAsk,
  type WholeSuperPacketsProbes,
} from '../src/daemon/whole-super-packets.js';

/** A host whose underlay segments UDP tunnels and whose firewall lets forwarded packets through, unless told otherwise. */
function host(answers: { segments?: boolean | undefined | Error; drops?: string[] } = {}) {
  const asked: string[] = [];
  const probes: WholeSuperPacketsProbes = {
    featureActive(device, name) {
      asked.push(`${device} ${name}`);
      const a = 'segments' in answers ? answers.segments : true;
      if (a instanceof Error) throw a;
      return a;
    },
    forwardDropPolicies() {
      asked.push('firewall');
      return answers.drops ?? [];
    },
  };
  return { probes, asked };
}

const autoAsk: WholeSuperPacketsAsk = { want: 'auto', tunOffloads: true, underlayDevice: 'eth0' };

t.test('not asked: off; nothing probed, nothing to log', async (t) => {
  const h = host();
  t.same(decideWholeSuperPackets({ ...autoAsk, want: false }, h.probes), { asked: false });
  t.same(h.asked, []);
});

t.test('auto: on where the underlay segments UDP tunnels and no forward chain drops by policy', async (t) => {
  const h = host();
  t.same(decideWholeSuperPackets(autoAsk, h.probes), { asked: true, auto: true, refused: undefined });
  t.same(h.asked, ['eth0 tx-udp_tnl-csum-segmentation', 'firewall'], 'both checks ran');
});

t.test('auto refused, with the reason', async (t) => {
  const cases: [string, WholeSuperPacketsAsk, Parameters<typeof host>[0], RegExp][] = [
    ['no TUN offloads', { ...autoAsk, tunOffloads: false }, {}, /^the TUN has no offloads$/],
    ['no underlay device', { ...autoAsk, underlayDevice: undefined }, {}, /^no underlay device to check$/],
    ['the feature is off', autoAsk, { segments: false }, /^eth0 does not segment UDP tunnels itself \(tx-udp_tnl-csum-segmentation off\)$/],
    ['the kernel has no such feature', autoAsk, { segments: undefined }, /^eth0 does not segment UDP tunnels itself/],
    ['the features cannot be read', autoAsk, { segments: new Error('ENODEV') }, /^reading eth0's features: ENODEV$/],
    [
      'one forward chain drops by policy',
      autoAsk,
      { drops: ['iptables FORWARD (policy DROP)'] },
      /^the firewall drops forwarded packets by default \(iptables FORWARD \(policy DROP\)\); accept those/,
    ],
    [
      'two forward chains drop by policy',
      autoAsk,
      { drops: ['nftables inet fw chain fwd (policy drop)', 'iptables FORWARD (policy DROP)'] },
      /^the firewall drops forwarded packets by default \(nftables inet fw chain fwd \(policy drop\); iptables FORWARD \(policy DROP\)\); accept those from the tunnel TAP and set offloads\.udpTunnelGso: true$/,
    ],
  ];
  for (const [what, ask, answers, reason] of cases) {
    const d = decideWholeSuperPackets(ask, host(answers).probes);
    t.ok(d.asked && d.auto, `${what}: asked, auto`);
    t.match(d.asked ? d.refused : undefined, reason, `${what}: the reason`);
  }
});

t.test('asked for outright: only what would break it is checked', async (t) => {
  const h = host({ segments: false, drops: ['iptables FORWARD (policy DROP)'] });
  t.same(
    decideWholeSuperPackets({ ...autoAsk, want: true }, h.probes),
    { asked: true, auto: false, refused: undefined },
    'neither the underlay nor the firewall stops it',
  );
  t.same(h.asked, [], 'neither was probed');
  t.same(decideWholeSuperPackets({ ...autoAsk, want: true, tunOffloads: false }, h.probes), { asked: true, auto: false, refused: 'the TUN has no offloads' });
});

t.test('the log line: a warning when asked for outright, information for auto', async (t) => {
  t.same(wholeSuperPacketsOffNote(false, 'the TUN has no offloads'), { level: 'warn', text: 'udpTunnelGso off: the TUN has no offloads' });
  t.same(wholeSuperPacketsOffNote(true, 'no underlay device to check'), { level: 'info', text: 'udpTunnelGso off (auto): no underlay device to check' });
});
