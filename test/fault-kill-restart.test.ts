// Faults during traffic: a daemon killed with kill -9 in the middle of a long TCP transfer (paced, so the kill
// lands in it) and started again within 5 s. Three hosts on the gossip store and the vxlan backend; the sender's
// daemon is the one killed. Its TUN goes with it, so the flow stands still until the restart: the host must
// come back with its subnet (from its state dir; its peers kept the lease) and the transfer must complete with
// the hash it was sent with. TULLE_FAULT_KILL_DOWN_S sets how long the daemon stays dead (default 1 s, 4 s long).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { trafficTools } from './helpers/tools.js';
import { faultDir, faultSeconds, routedCounts, subnetAddress, within } from './helpers/fault-lab.js';

const MIB = 1 << 20;
/** Paced at 8 MiB/s: 64 MiB last 8 s, and the kill comes 2 s in. */
const RATE = 8 * MIB;
const BYTES = faultSeconds('KILL_TRANSFER', 8, 32) * RATE;
const KILL_AFTER_MS = 2_000;
/** The bound: started again within 5 s of the kill. */
const RESTART_WITHIN_S = 5;
const DOWN_S = faultSeconds('KILL_DOWN', 1, 4);
if (DOWN_S > RESTART_WITHIN_S) throw new Error(`TULLE_FAULT_KILL_DOWN_S = ${DOWN_S}: must be at most ${RESTART_WITHIN_S} (the restart comes within 5 s)`);

const lab = rootLab(t);
if (lab) {
  const hosts = switchedHosts(lab, ['ka', 'kb', 'kc']);
  const files = faultDir(lab, 'fault-kill');
  const key = randomBytes(32).toString('base64');
  const config = hosts.map((h, i) =>
    files.write(`k${i}`, {
      network: '198.18.0.0/16',
      underlay: { address: h.underlay },
      backend: { type: 'vxlan' },
      logLevel: 'info',
      store: { type: 'gossip', key, preset: 'local', peers: i === 0 ? [] : [hosts[0].underlay] },
    }),
  );
  const tools = trafficTools(lab);

  t.test(`kill -9 mid-transfer, restarted after ${DOWN_S} s: the host keeps its subnet and the transfer completes`, async (t) => {
    const daemons: RunningDaemon[] = [];
    t.teardown(async () => {
      for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) await d.stop();
    });
    for (const [i, h] of hosts.entries()) daemons.push(await startDaemon(lab, h.ns, config[i], files.stateDir(`k${i}`)));
    t.ok((await within(20_000, async () => (await routedCounts(daemons)).every((n) => n === 2))) !== undefined, 'each host routes to the two others');
    const subnets = await Promise.all(daemons.map(async (d) => (await d.status()).subnet));

    // kb sends to ka; kb's daemon dies under it.
    const transfer = await tools.startTransfer(hosts[1].ns, hosts[0].ns, subnetAddress(subnets[0]), 7811, BYTES, RATE, (BYTES / RATE) * 1000 + 60_000);
    const began = Date.now();
    await sleep(KILL_AFTER_MS);
    t.notOk(transfer.finished(), `the transfer is still running ${KILL_AFTER_MS / 1000} s in (of ~${BYTES / RATE} s)`);
    const killedAt = Date.now();
    t.equal(await daemons[1].stop('SIGKILL'), null, 'kill -9 ends kb');
    await sleep(DOWN_S * 1000);
    daemons[1] = await startDaemon(lab, hosts[1].ns, config[1], files.stateDir('k1'));
    // How long a start takes here depends on the machine's load (node loading its modules): a figure, not a bound.
    t.comment(`kb started again ${DOWN_S} s after the kill and answered ${((Date.now() - killedAt) / 1000).toFixed(1)} s after it`);
    t.equal((await daemons[1].status()).subnet, subnets[1], `kb came back with its subnet ${subnets[1]}`);
    t.match(daemons[1].log(), /kept from the last run/, 'from its state dir');

    const { sent, received } = await transfer.done;
    const took = (Date.now() - began) / 1000;
    t.equal(received.bytes, BYTES, `all ${BYTES / MIB} MiB arrived (${took.toFixed(1)} s, ${(BYTES / RATE).toFixed(0)} s of it paced)`);
    t.equal(received.sha256, sent.sha256, 'with the hash they were sent with');
    t.same(
      daemons.map((d) => d.child.exitCode),
      [null, null, null],
      'every daemon still runs',
    );
    t.same(await routedCounts(daemons), [2, 2, 2], 'and routes to the two others');
    const after = await Promise.all(daemons.map(async (d) => (await d.status()).subnet));
    t.same(after, subnets, 'no host changed subnet');
  });
}
