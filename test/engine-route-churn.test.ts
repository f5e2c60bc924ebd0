// Routes republished under traffic: three hosts exchange UDP flows while each
// republishes its routes about 1,000 times a second, shuffling the peers'
// positions and adding and removing decoy peers whose underlay addresses a
// fourth namespace holds. The owner of every host subnet never changes, so a
// packet has exactly one right host. Every host counts, on its underlay and by
// inner source and destination, what reached it (nft counters); the decoy
// namespace counts the same. No packet may reach a host that does not own its
// destination, none may go to a decoy, and the counters explain every packet.
// With vxlan each peer's template differs (its VTEP MAC): every datagram that
// reaches a host must carry that host's MAC, i.e. have left with its template.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import type { ChurnPlan, ChurnReport } from './helpers/route-churn-child.js';

const HOSTS = 3;
const DURATION_MS = 12_000;

const lab = rootLab(t);
if (lab) {
  const hosts = switchedHosts(lab, ['c1', 'c2', 'c3', 'decoy']);
  const decoyNs = hosts[HOSTS].ns;
  const decoys = Array.from({ length: 8 }, (_, k) => `192.0.2.${200 + k}`);
  // The decoy namespace holds every decoy address (so their datagrams are delivered to it, and counted there).
  for (const address of decoys) lab.ip(decoyNs, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
  // The counters below count what the kernel hands them, and a coalesced send (equal datagrams to one peer leave
  // as one UDP_SEGMENT send) would cross the veth whole, as one packet: each host cuts its sends into datagrams
  // at its own veth instead, so every datagram is counted on the far side.
  for (const h of hosts) lab.exec(h.ns, ['ethtool', '-K', 'eth0', 'tx-udp-segmentation', 'off']);

  /**
   * Counters on the underlay, before anything else sees a datagram: one per (inner source subnet, inner
   * destination subnet) of tulle's port. The udp backend's payload is the inner IPv4 packet, so its source
   * address is at bit 64 + 96 of the transport header and its destination at 64 + 128.
   */
  const tally = (ns: string, backend: 'udp' | 'vxlan', ownMac: string | undefined) => {
    // vxlan: the inner packet follows the VXLAN header (8 bytes) and the inner Ethernet header (14).
    const port = backend === 'vxlan' ? 4789 : 8285;
    const inner = backend === 'vxlan' ? 64 + 64 + 112 : 64;
    const rules = [];
    for (let s = 0; s < HOSTS; s++) {
      for (let d = 0; d < HOSTS; d++) {
        const hex = (h: number) => `0xc612${(h + 1).toString(16).padStart(2, '0')}`;
        rules.push(`add rule inet tally in udp dport ${port} @th,${inner + 96},24 ${hex(s)} @th,${inner + 128},24 ${hex(d)} counter comment "s${s}d${d}"`);
      }
    }
    rules.push(`add rule inet tally in udp dport ${port} counter comment "all"`);
    // The inner Ethernet destination (after UDP and VXLAN headers) is the VTEP MAC of the template used.
    if (ownMac !== undefined) rules.push(`add rule inet tally in udp dport ${port} @th,128,48 != 0x${ownMac.replaceAll(':', '')} counter comment "othermac"`);
    // Made afresh for each run: `nft reset counters` leaves a rule's own counter alone.
    const script = [
      'add table inet tally',
      'delete table inet tally',
      'add table inet tally',
      'add chain inet tally in { type filter hook prerouting priority -300; policy accept; }',
      ...rules,
    ].join('\n');
    lab.exec(ns, ['nft', '-f', '-'], { input: script + '\n' });
  };
  const readTally = (ns: string) => {
    const out = lab.exec(ns, ['nft', 'list', 'table', 'inet', 'tally']);
    const flows: Record<string, number> = {};
    for (const m of out.matchAll(/counter packets (\d+) bytes \d+ comment "(\w+)"/g)) flows[m[2]] = Number(m[1]);
    return flows;
  };

  const child = fileURLToPath(new URL('./helpers/route-churn-child.ts', import.meta.url));
  const loader = import.meta.resolve('@tapjs/typescript/import');

  const hostMac = (h: number) => `02:00:00:00:00:${(h + 1).toString(16).padStart(2, '0')}`; // as the child's
  for (const [backend, threads] of [
    ['udp', 1],
    ['udp', 2],
    ['vxlan', 1],
    ['vxlan', 2],
  ] as const) {
    t.test(
      `${backend}, ${threads === 1 ? 'one data-plane thread' : 'two data-plane threads'}: 1,000 publishes a second never send a packet to the wrong host`,
      async (t) => {
        hosts.forEach((host, h) => tally(host.ns, backend, backend === 'vxlan' && h < HOSTS ? hostMac(h) : undefined));
        const children: ChildProcess[] = [];
        const outputs: string[] = [];
        const ready: Promise<void>[] = [];
        const done: Promise<number | null>[] = [];
        for (let i = 0; i < HOSTS; i++) {
          const plan: ChurnPlan = {
            index: i,
            hosts: hosts.slice(0, HOSTS).map((h) => h.underlay),
            decoys,
            durationMs: DURATION_MS,
            publishesPerSecond: 1000,
            packetsPerSecond: 3000,
            addressesPerHost: 4,
            threads,
            backend,
          };
          const c = lab.spawn(hosts[i].ns, [process.execPath, '--import', loader, child, JSON.stringify(plan)], { stdio: ['pipe', 'pipe', 'pipe'] });
          children.push(c);
          outputs.push('');
          let errors = '';
          c.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
          ready.push(
            new Promise((resolve, reject) => {
              c.stdout!.on('data', (chunk: Buffer) => {
                outputs[i] += chunk.toString();
                if (outputs[i].startsWith('ready\n')) resolve();
              });
              c.once('exit', (code) => reject(new Error(`host ${i} exited with ${code} before it was ready: ${errors}`)));
            }),
          );
          done.push(new Promise((resolve) => c.once('exit', resolve)));
        }
        t.teardown(() => {
          for (const c of children) if (c.exitCode === null) c.kill();
        });
        const timeout = (ms: number, what: string) =>
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms).unref());
        await Promise.race([Promise.all(ready), timeout(60_000, 'engines starting')]);
        for (const c of children) c.stdin!.end('go\n');
        const codes = await Promise.race([Promise.all(done), timeout(DURATION_MS + 60_000, 'the churn run')]);
        t.same(
          codes,
          codes.map(() => 0),
          'every host ran to the end',
        );
        const reports = outputs.map((out) => JSON.parse(out.trim().split('\n').pop()!) as ChurnReport);
        const tallies = hosts.map((h) => readTally(h.ns));

        const publishes = reports.reduce((sum, r) => sum + r.publishes, 0);
        let misdelivered = 0;
        for (let h = 0; h < HOSTS; h++) {
          for (let s = 0; s < HOSTS; s++) for (let d = 0; d < HOSTS; d++) if (d !== h) misdelivered += tallies[h][`s${s}d${d}`] ?? 0;
        }
        const toDecoys = tallies[HOSTS].all ?? 0;
        const notOurs = reports.reduce((sum, r) => sum + r.counters.dropNotOurs, 0);
        t.comment(
          `${publishes} publishes in ${DURATION_MS / 1000} s; ${misdelivered} datagrams reached a host that does not own their destination, ${toDecoys} went to decoys, dropNotOurs ${notOurs}`,
        );
        t.equal(misdelivered, 0, 'no datagram reached a host that does not own its inner destination');
        t.equal(toDecoys, 0, 'no datagram went toward a decoy peer');
        t.equal(notOurs, 0, 'no receiving engine dropped a packet as not its own');
        if (backend === 'vxlan') {
          const otherMac = tallies.slice(0, HOSTS).reduce((sum, tl) => sum + (tl.othermac ?? 0), 0);
          t.equal(otherMac, 0, `every datagram that reached a host carried that host's VTEP MAC: it left with the right template (${otherMac} did not)`);
        }
        t.ok(publishes >= HOSTS * 1000 * (DURATION_MS / 1000) * 0.9, `the routes really churned (${publishes} publishes)`);
        for (const r of reports) t.equal(r.wrongAddress, 0, `host ${r.index}: nothing arrived at an address it was not sent to`);

        // Every packet explained, per flow: sent = received by the application + seen on a wrong host or a
        // decoy + dropped by a counted reason on either engine. On a loaded machine the sender's kernel also
        // drops at the TUN before its engine reads (dropsBeforeEngine): counted per sender, not per flow, so a
        // flow may miss up to its sender's count, and a sender's flows together miss that count.
        for (let s = 0; s < HOSTS; s++) {
          const beforeEngine = reports[s].dropsBeforeEngine;
          const slack = (sent: number) => Math.max(5, sent * 0.002);
          let senderUnexplained = 0;
          let senderSent = 0;
          for (let d = 0; d < HOSTS; d++) {
            if (s === d) continue;
            const sent = reports[s].sent[d];
            const got = reports[d].received[s];
            const elsewhere = tallies.reduce((sum, tl, h) => sum + (h === d ? 0 : (tl[`s${s}d${d}`] ?? 0)), 0);
            const arrived = tallies[d][`s${s}d${d}`] ?? 0;
            const unexplained = sent - got - elsewhere;
            t.ok(sent > 0, `flow ${s}→${d}: ${sent} sent`);
            t.equal(arrived, got, `flow ${s}→${d}: what reached host ${d}'s underlay (${arrived}) is what its application received (${got})`);
            senderUnexplained += unexplained;
            senderSent += sent;
            t.ok(
              unexplained >= -slack(sent) && unexplained <= slack(sent) + beforeEngine,
              `flow ${s}→${d}: ${sent} sent = ${got} received + ${elsewhere} elsewhere (${unexplained} unexplained; host ${s}'s kernel dropped ${beforeEngine} before its engine)`,
            );
          }
          t.ok(
            Math.abs(senderUnexplained - beforeEngine) <= slack(senderSent),
            `host ${s}: its flows' unexplained losses (${senderUnexplained}) are what its kernel dropped before the engine (${beforeEngine})`,
          );
        }
        for (const r of reports) {
          const c = r.counters;
          t.equal(
            c.dropNoRoute + c.sendErrors + c.encapErrors + c.writeErrors + c.dropUnknownSender + c.dropMalformed + c.dropUnknownVtep + c.dropWrongVni,
            0,
            `host ${r.index}: no other drop (noRoute ${c.dropNoRoute}, sendErrors ${c.sendErrors}, encapErrors ${c.encapErrors}, writeErrors ${c.writeErrors}, unknownSender ${c.dropUnknownSender}, malformed ${c.dropMalformed}, unknownVtep ${c.dropUnknownVtep})`,
          );
        }
      },
    );
  }
}
