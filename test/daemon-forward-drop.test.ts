// A firewall that drops forwarded packets by policy (Docker sets iptables'
// FORWARD policy to DROP: flannel #609, #799) would cut every container off
// from the overlay: tulle accepts the overlay's traffic at the head of each
// chain on the forward hook that drops by policy (iptables-nft,
// iptables-legacy, a table of plain nftables), puts the rules back at the head
// within its check interval when someone flushes them or inserts a rule above
// them, replaces what a killed daemon left, and leaves nothing behind after a stop. Two hosts on the vxlan backend,
// dual-stack, each with a container on a bridge in its subnet.
import t, { type Test } from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { run } from '../src/lab/netns.js';
import { container, switchedHosts, type Host } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { trafficTools } from './helpers/tools.js';

/** tulle's check interval (src/daemon/forward-accept.ts); rules must be back within twice that. */
const CHECK_S = 10;
const MACS = ['02:00:5e:00:53:21', '02:00:5e:00:53:22'];

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-forward-drop-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = switchedHosts(lab, ['fa', 'fb']);
  const [a, b] = hosts;
  // A container behind each host, IPv4 and IPv6, on a bridge holding the first address of the host's subnets.
  const ctrs = hosts.map((host, i) => {
    const n = i + 1;
    const ns = container(lab, host, `fc${n}`, `198.18.${n}.2`, `198.18.${n}.1`);
    lab.exec(host.ns, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    lab.ip(host.ns, 'addr', 'add', `2001:db8:18:${n}::1/64`, 'dev', 'cbr0', 'nodad');
    lab.ip(ns, 'addr', 'add', `2001:db8:18:${n}::2/64`, 'dev', 'eth0', 'nodad');
    lab.ip(ns, '-6', 'route', 'add', 'default', 'via', `2001:db8:18:${n}::1`);
    return ns;
  });
  const [ca, cb] = ctrs;
  const { tcpTransfer } = trafficTools(lab);

  const configFile = (host: Host, i: number, extra: object) => {
    const n = i + 1;
    const m = 2 - i;
    const peer = hosts[1 - i];
    const file = join(dir, `${host.ns}.yaml`);
    writeFileSync(
      file,
      stringify({
        network: '198.18.0.0/16',
        subnet: `198.18.${n}.0/24`,
        ipv6Network: '2001:db8:18::/48',
        ipv6Subnet: `2001:db8:18:${n}::/64`,
        underlay: { address: host.underlay },
        backend: { type: 'vxlan', mac: MACS[i] },
        peers: [{ subnet: `198.18.${m}.0/24`, ipv6Subnet: `2001:db8:18:${m}::/64`, address: peer.underlay, mac: MACS[1 - i] }],
        stateDir: join(dir, `state-${n}`),
        ...(i === 0 ? { metricsAddress: '127.0.0.1:9464' } : {}),
        ...extra,
      }),
    );
    return file;
  };
  const start = (host: Host, extra: object = {}, env?: NodeJS.ProcessEnv) => {
    const i = hosts.indexOf(host);
    return startDaemon(lab, host.ns, configFile(host, i, extra), join(dir, `state-${i + 1}`), [], env);
  };
  /** tulle on both hosts, stopped when the test ends (if it has not stopped them itself). */
  const startBoth = async (t: Test, extra: object = {}, env?: NodeJS.ProcessEnv): Promise<RunningDaemon[]> => {
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) await d.stop();
    });
    for (const host of hosts) daemons.push(await start(host, extra, env));
    return daemons;
  };

  const ping = (ns: string, to: string, count = 3) => lab.exec(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', to], { allowFailure: true });
  /** Container to container across the hosts, both ways, both families. */
  const reachable = (t: Test, what: string) => {
    let ok = true;
    for (const [from, address] of [
      [ca, '198.18.2.2'],
      [cb, '198.18.1.2'],
      [ca, '2001:db8:18:2::2'],
      [cb, '2001:db8:18:1::2'],
    ]) {
      const out = ping(from, address);
      ok = t.match(out, / 0% packet loss/, `${what}: ${from === ca ? 'container a' : 'container b'} → ${address} (${/\d+% packet loss/.exec(out)?.[0]})`) && ok;
    }
    return ok;
  };
  const legacyTables = (ns: string, family: 4 | 6) =>
    lab
      .exec(ns, ['cat', family === 4 ? '/proc/net/ip_tables_names' : '/proc/net/ip6_tables_names'], { allowFailure: true })
      .split('\n')
      .includes('filter');
  /** Every line about tulle in the namespace's firewalls, as their tools print them (legacy ones only where legacy tables exist). */
  const tulleLines = (ns: string) => {
    const listings = [lab.exec(ns, ['iptables-nft', '-S']), lab.exec(ns, ['ip6tables-nft', '-S']), lab.exec(ns, ['nft', 'list', 'ruleset'])];
    if (legacyTables(ns, 4)) listings.push(lab.exec(ns, ['iptables-legacy', '-S']));
    if (legacyTables(ns, 6)) listings.push(lab.exec(ns, ['ip6tables-legacy', '-S']));
    return listings
      .join('\n')
      .split('\n')
      .filter((line) => /tulle/i.test(line))
      .map((line) => line.trim());
  };
  /** Back to no firewall at all. */
  const reset = (ns: string) => {
    lab.exec(ns, ['nft', 'flush', 'ruleset']);
    for (const [tool, family] of [
      ['iptables-legacy', 4],
      ['ip6tables-legacy', 6],
    ] as const) {
      if (!legacyTables(ns, family)) continue;
      lab.exec(ns, [tool, '-P', 'FORWARD', 'ACCEPT']);
      lab.exec(ns, [tool, '-F']);
      lab.exec(ns, [tool, '-X']);
    }
  };
  /** Waits until `done()` holds (polling each second), at most `seconds`; resolves with the seconds it took, or undefined. */
  const within = async (seconds: number, done: () => boolean): Promise<number | undefined> => {
    const started = Date.now();
    while (Date.now() - started < seconds * 1000) {
      if (done()) return Math.round((Date.now() - started) / 100) / 10;
      await sleep(1000);
    }
    return undefined;
  };
  const metric = (ns: string, name: string) => {
    const body = lab.exec(ns, [process.execPath, '-e', 'fetch("http://127.0.0.1:9464/metrics").then(async (r) => console.log(await r.text()))']);
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(body)?.[1] ?? NaN);
  };
  const HEAD_V4 =
    '-P FORWARD DROP\n-A FORWARD -s 198.18.0.0/16 -m comment --comment "tulle: accept from 198.18.0.0/16" -j ACCEPT\n' +
    '-A FORWARD -d 198.18.0.0/16 -m comment --comment "tulle: accept to 198.18.0.0/16" -j ACCEPT\n';
  const HEAD_V6 =
    '-P FORWARD DROP\n-A FORWARD -s 2001:db8:18::/48 -m comment --comment "tulle: accept from 2001:db8:18::/48" -j ACCEPT\n' +
    '-A FORWARD -d 2001:db8:18::/48 -m comment --comment "tulle: accept to 2001:db8:18::/48" -j ACCEPT\n';

  t.test("Docker's firewall (iptables-nft, FORWARD policy DROP): containers reach each other; flushed rules come back; a stop leaves nothing", async (t) => {
    for (const host of hosts) {
      t.teardown(() => reset(host.ns));
      for (const tool of ['iptables-nft', 'ip6tables-nft']) lab.exec(host.ns, [tool, '-P', 'FORWARD', 'DROP']);
      // As Docker 28 does: traffic into a container bridge from another device is dropped in its DOCKER chain,
      // ahead of FORWARD's end (so rules appended there would never be reached); traffic out of it is accepted.
      lab.exec(host.ns, ['iptables-nft', '-N', 'DOCKER']);
      lab.exec(host.ns, ['iptables-nft', '-A', 'FORWARD', '-o', 'cbr0', '-j', 'DOCKER']);
      lab.exec(host.ns, ['iptables-nft', '-A', 'FORWARD', '-i', 'cbr0', '!', '-o', 'cbr0', '-j', 'ACCEPT']);
      lab.exec(host.ns, ['iptables-nft', '-A', 'DOCKER', '!', '-i', 'cbr0', '-o', 'cbr0', '-j', 'DROP']);
    }
    const [da, db] = await startBoth(t);
    const ok = reachable(t, 'through FORWARD DROP');
    if (ok) {
      const { sent, received } = await tcpTransfer(ca, cb, '198.18.2.2', 7901, 4 << 20);
      t.same([received.bytes, received.sha256], [4 << 20, sent.sha256], 'TCP container → container: 4 MiB, the same bytes');
    }
    for (const host of hosts) {
      t.ok(lab.exec(host.ns, ['iptables-nft', '-S', 'FORWARD']).startsWith(HEAD_V4), `${host.ns}: tulle's two IPv4 rules head the FORWARD chain`);
      t.ok(lab.exec(host.ns, ['ip6tables-nft', '-S', 'FORWARD']).startsWith(HEAD_V6), `${host.ns}: and its two IPv6 rules`);
    }
    t.match(
      da.log(),
      /iptables-nft filter FORWARD drops forwarded packets by policy: accepting the overlay's \(-s 198\.18\.0\.0\/16 -j ACCEPT, -d 198\.18\.0\.0\/16 -j ACCEPT\)/,
      'the log names the chain and the rules',
    );
    t.match(
      da.log(),
      /ip6tables-nft filter FORWARD drops forwarded packets by policy: accepting the overlay's \(-s 2001:db8:18::\/48 -j ACCEPT, -d 2001:db8:18::\/48 -j ACCEPT\)/,
      'and the IPv6 ones',
    );

    // Someone flushes the chain while tulle runs (iptables -F FORWARD).
    lab.exec(a.ns, ['iptables-nft', '-F', 'FORWARD']);
    lab.exec(a.ns, ['ip6tables-nft', '-F', 'FORWARD']);
    t.same(tulleLines(a.ns), [], 'flushed');
    const back = await within(
      2 * CHECK_S + 10,
      () => lab.exec(a.ns, ['iptables-nft', '-S', 'FORWARD']).startsWith(HEAD_V4) && lab.exec(a.ns, ['ip6tables-nft', '-S', 'FORWARD']).startsWith(HEAD_V6),
    );
    t.ok(back !== undefined && back <= 2 * CHECK_S, `the rules are back within ${2 * CHECK_S} s (after ${back ?? 'more than 30'} s)`);
    const putBack =
      /forward accept rules in iptables-nft filter FORWARD: they were removed; put back at the head \(-s 198\.18\.0\.0\/16 -j ACCEPT, -d 198\.18\.0\.0\/16 -j ACCEPT\)/;
    t.ok((await within(10, () => putBack.test(da.log()))) !== undefined, 'the log says so');
    t.equal(metric(a.ns, 'tulle_forward_rules_restored_total'), 2, '/metrics counts the two chains put back');
    reachable(t, 'after the flush');

    // Docker inserts its rules at the top of FORWARD when it starts or creates a network: here the jump to
    // the chain whose rule drops traffic into the bridge lands above tulle's rules on b.
    lab.exec(b.ns, ['iptables-nft', '-I', 'FORWARD', '1', '-o', 'cbr0', '-j', 'DOCKER']);
    const first = await within(2 * CHECK_S + 10, () => lab.exec(b.ns, ['iptables-nft', '-S', 'FORWARD']).startsWith(HEAD_V4));
    t.ok(
      first !== undefined && first <= 2 * CHECK_S,
      `a rule inserted above them: they head the chain again within ${2 * CHECK_S} s (after ${first ?? 'more than 30'} s)`,
    );
    t.ok(
      (await within(10, () => /forward accept rules in iptables-nft filter FORWARD: a rule was inserted above them; put back at the head/.test(db.log()))) !==
        undefined,
      'the log says so',
    );
    t.match(lab.exec(b.ns, ['iptables-nft', '-S', 'FORWARD']), /^-A FORWARD -o cbr0 -j DOCKER$/m, 'the other rule stays, below them');
    reachable(t, 'after a rule was inserted above them');

    t.equal(await da.stop(), 0, 'a stops: exit 0');
    t.equal(await db.stop(), 0, 'b stops: exit 0');
    for (const host of hosts) {
      t.same(tulleLines(host.ns), [], `${host.ns}: nothing of tulle's is left in iptables, ip6tables or nftables`);
      t.match(lab.exec(host.ns, ['iptables-nft', '-S']), /^-P FORWARD DROP$/m, `${host.ns}: the policy is untouched`);
      t.match(lab.exec(host.ns, ['iptables-nft', '-S', 'DOCKER']), /^-A DOCKER ! -i cbr0 -o cbr0 -j DROP$/m, `${host.ns}: and so are the other rules`);
    }
  });

  t.test('kill -9 leaves the rules; the next start replaces them, so they never pile up', async (t) => {
    t.teardown(() => reset(a.ns));
    for (const tool of ['iptables-nft', 'ip6tables-nft']) lab.exec(a.ns, [tool, '-P', 'FORWARD', 'DROP']);
    const killed = await start(a);
    t.equal(await killed.stop('SIGKILL'), null, 'killed');
    t.equal(tulleLines(a.ns).length, 4, 'it left its four rules (IPv4 and IPv6)');
    const again = await start(a);
    t.teardown(() => again.stop());
    t.match(
      again.log(),
      /removed forward accept rules a previous run left in iptables-nft filter FORWARD, ip6tables-nft filter FORWARD/,
      'the next start removes them first, and says so',
    );
    t.ok(lab.exec(a.ns, ['iptables-nft', '-S', 'FORWARD']).startsWith(HEAD_V4), 'the rules head the chain');
    t.equal(tulleLines(a.ns).length, 4, 'four rules, not eight');
    t.equal(await again.stop(), 0, 'exit 0');
    t.same(tulleLines(a.ns), [], 'none after the stop');
  });

  t.test('plain nftables: a table of its own with a forward chain of policy drop', async (t) => {
    for (const host of hosts) {
      t.teardown(() => reset(host.ns));
      lab.exec(host.ns, ['nft', 'add', 'table', 'inet', 'fwdrop']);
      lab.exec(host.ns, ['nft', 'add', 'chain', 'inet', 'fwdrop', 'forwarding', '{ type filter hook forward priority 0; policy drop; }']);
      lab.exec(host.ns, ['nft', 'add', 'rule', 'inet', 'fwdrop', 'forwarding', 'oifname', 'cbr0', 'drop']);
    }
    const [da, db] = await startBoth(t);
    reachable(t, 'through the nftables chain');
    const chain = (ns: string) =>
      lab
        .exec(ns, ['nft', 'list', 'chain', 'inet', 'fwdrop', 'forwarding'])
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
    const HEAD = [
      'ip saddr 198.18.0.0/16 accept comment "tulle: accept from 198.18.0.0/16"',
      'ip daddr 198.18.0.0/16 accept comment "tulle: accept to 198.18.0.0/16"',
      'ip6 saddr 2001:db8:18::/48 accept comment "tulle: accept from 2001:db8:18::/48"',
      'ip6 daddr 2001:db8:18::/48 accept comment "tulle: accept to 2001:db8:18::/48"',
    ];
    for (const host of hosts) t.same(chain(host.ns).slice(3, 7), HEAD, `${host.ns}: tulle's four rules head the chain, before its own drop`);
    t.match(
      db.log(),
      /nftables inet fwdrop chain forwarding drops forwarded packets by policy: accepting the overlay's \(ip saddr 198\.18\.0\.0\/16 accept, ip daddr 198\.18\.0\.0\/16 accept, ip6 saddr 2001:db8:18::\/48 accept, ip6 daddr 2001:db8:18::\/48 accept\)/,
      'the log names the chain and the rules',
    );

    lab.exec(b.ns, ['nft', 'flush', 'chain', 'inet', 'fwdrop', 'forwarding']);
    t.same(tulleLines(b.ns), [], 'flushed');
    const back = await within(2 * CHECK_S + 10, () => chain(b.ns).slice(3, 7).join('\n') === HEAD.join('\n'));
    t.ok(back !== undefined && back <= 2 * CHECK_S, `the rules are back within ${2 * CHECK_S} s (after ${back ?? 'more than 30'} s)`);
    t.ok(
      (await within(10, () => /forward accept rules in nftables inet fwdrop chain forwarding: they were removed; put back at the head/.test(db.log()))) !==
        undefined,
      'the log says so',
    );
    reachable(t, 'after the flush');

    // A drop inserted above them (nft insert puts it at the head).
    lab.exec(b.ns, ['nft', 'insert', 'rule', 'inet', 'fwdrop', 'forwarding', 'oifname', 'cbr0', 'drop']);
    const first = await within(2 * CHECK_S + 10, () => chain(b.ns).slice(3, 7).join('\n') === HEAD.join('\n'));
    t.ok(
      first !== undefined && first <= 2 * CHECK_S,
      `a rule inserted above them: they head the chain again within ${2 * CHECK_S} s (after ${first ?? 'more than 30'} s)`,
    );
    t.ok(
      (await within(10, () =>
        /forward accept rules in nftables inet fwdrop chain forwarding: a rule was inserted above them; put back at the head/.test(db.log()),
      )) !== undefined,
      'the log says so',
    );
    t.equal(chain(b.ns)[7], 'oifname "cbr0" drop', 'the other rule stays, below them');
    reachable(t, 'after a rule was inserted above them');

    t.equal(await da.stop(), 0, 'a stops: exit 0');
    t.equal(await db.stop(), 0, 'b stops: exit 0');
    for (const host of hosts) {
      t.same(tulleLines(host.ns), [], `${host.ns}: nothing of tulle's is left`);
      t.match(
        lab.exec(host.ns, ['nft', 'list', 'chain', 'inet', 'fwdrop', 'forwarding']),
        /policy drop;\n\s*oifname "cbr0" drop\n\s*\}/,
        `${host.ns}: the chain holds its own rule alone`,
      );
    }
  });

  t.test('iptables-legacy and nftables at once: every chain that drops gets the rules', async (t) => {
    if (lab.exec(a.ns, ['iptables-legacy', '-S', 'FORWARD'], { allowFailure: true }) === '') {
      t.pass('skipped: this kernel has no legacy iptables (x_tables)', { skip: true });
      return;
    }
    for (const host of hosts) {
      t.teardown(() => reset(host.ns));
      for (const tool of ['iptables-legacy', 'ip6tables-legacy']) lab.exec(host.ns, [tool, '-P', 'FORWARD', 'DROP']);
      lab.exec(host.ns, ['nft', 'add', 'table', 'ip', 'other']);
      lab.exec(host.ns, ['nft', 'add', 'chain', 'ip', 'other', 'fwd-in', '{ type filter hook forward priority 10; policy drop; }']);
    }
    const [da, db] = await startBoth(t);
    reachable(t, 'through both');
    for (const host of hosts) {
      t.ok(lab.exec(host.ns, ['iptables-legacy', '-S', 'FORWARD']).startsWith(HEAD_V4), `${host.ns}: iptables-legacy's FORWARD has tulle's rules at its head`);
      t.ok(lab.exec(host.ns, ['ip6tables-legacy', '-S', 'FORWARD']).startsWith(HEAD_V6), `${host.ns}: and ip6tables-legacy's`);
      t.match(
        lab.exec(host.ns, ['nft', 'list', 'chain', 'ip', 'other', 'fwd-in']),
        /ip saddr 198\.18\.0\.0\/16 accept comment "tulle: accept from 198\.18\.0\.0\/16"/,
        `${host.ns}: and the nftables chain (IPv4 only: an ip table sees no IPv6)`,
      );
    }
    t.match(da.log(), /iptables-legacy filter FORWARD drops forwarded packets by policy/, 'the log names iptables-legacy');
    t.equal(await da.stop(), 0, 'a stops: exit 0');
    t.equal(await db.stop(), 0, 'b stops: exit 0');
    for (const host of hosts) t.same(tulleLines(host.ns), [], `${host.ns}: nothing of tulle's is left`);
  });

  t.test("without the nft and iptables-legacy commands: iptables-nft's own do it, and the log names what could not be read", async (t) => {
    // A PATH holding only what the daemon needs besides: ip, and iptables-nft as Docker hosts often have it.
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['ip', 'iptables-nft', 'ip6tables-nft']) symlinkSync(run(['sh', '-c', `command -v ${tool}`]).trim(), join(bin, tool));
    t.teardown(() => rmSync(bin, { recursive: true, force: true }));
    for (const host of hosts) {
      t.teardown(() => reset(host.ns));
      for (const tool of ['iptables-nft', 'ip6tables-nft']) lab.exec(host.ns, [tool, '-P', 'FORWARD', 'DROP']);
    }
    const [da, db] = await startBoth(t, {}, { PATH: bin });
    reachable(t, 'through FORWARD DROP, with iptables-nft alone');
    t.ok(lab.exec(a.ns, ['iptables-nft', '-S', 'FORWARD']).startsWith(HEAD_V4), "tulle's rules head the chain");
    t.match(
      da.log(),
      /forward chains not checked for a drop policy: [^"]*nftables tables other than iptables' \(no nft command\)/,
      'the log names what it could not read, and why',
    );
    // The subtest above left legacy tables in the namespace (they stay once created).
    if (legacyTables(a.ns, 4))
      t.match(da.log(), /iptables-legacy \(legacy iptables tables exist, but no iptables-legacy command\)/, 'legacy tables without their command: named too');
    t.equal(await da.stop(), 0, 'a stops: exit 0');
    t.equal(await db.stop(), 0, 'b stops: exit 0');
    for (const host of hosts) t.same(tulleLines(host.ns), [], `${host.ns}: nothing of tulle's is left`);
  });

  t.test("forwardAccept: false adds nothing, and the policy drops the overlay's traffic", async (t) => {
    for (const host of hosts) {
      t.teardown(() => reset(host.ns));
      lab.exec(host.ns, ['iptables-nft', '-P', 'FORWARD', 'DROP']);
    }
    await startBoth(t, { forwardAccept: false });
    t.match(ping(ca, '198.18.2.2', 2), / 100% packet loss/, 'container a → container b: dropped');
    for (const host of hosts) t.same(tulleLines(host.ns), [], `${host.ns}: no rule of tulle's`);
  });

  t.test('no chain drops by policy: nothing is added, until one does (Docker started after tulle)', async (t) => {
    const [da] = await startBoth(t);
    t.match(da.log(), /no forward chain drops by policy: no accept rules needed/, 'the log says none are needed');
    for (const host of hosts) t.same(tulleLines(host.ns), [], `${host.ns}: no rule of tulle's`);
    reachable(t, 'without a firewall');

    for (const host of hosts) {
      t.teardown(() => reset(host.ns));
      lab.exec(host.ns, ['iptables-nft', '-P', 'FORWARD', 'DROP']);
    }
    const added = await within(2 * CHECK_S + 10, () => hosts.every((host) => lab.exec(host.ns, ['iptables-nft', '-S', 'FORWARD']).startsWith(HEAD_V4)));
    t.ok(
      added !== undefined && added <= 2 * CHECK_S,
      `the policy turned to DROP: the rules are there within ${2 * CHECK_S} s (after ${added ?? 'more than 30'} s)`,
    );
    t.ok(
      (await within(10, () => /iptables-nft filter FORWARD drops forwarded packets by policy: accepting the overlay's/.test(da.log()))) !== undefined,
      'the log says so',
    );
    t.equal(metric(a.ns, 'tulle_forward_rules_restored_total'), 0, 'a first addition is not counted as putting back');
    reachable(t, 'through the new policy');
  });
}
