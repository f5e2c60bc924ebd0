// Another host's view of etcd, churning leases the way hosts come and go: run inside a lab namespace with a
// JSON plan, it adds a lease (flannel's key and value, attached to an etcd lease, as a host writes it) and
// removes the oldest it added, `perSecond` times a second each, for `seconds`; at most `live` of its leases
// exist at once. The leases' PublicIPs are decoy addresses nobody routes to. It prints {adds, removes,
// errors, maxLive, maxStored, elapsedMs} once done, with every lease it wrote removed.
import { connectEtcd } from '../../src/etcd/etcd-client.js';
import { encodeLeaseValue, formatSubnetKey } from '../../src/etcd/lease-value.js';

export interface EtcdChurnPlan {
  endpoint: string;
  /** e.g. /coreos.com/network/subnets/ */
  subnetsPrefix: string;
  /** The subnets it may lease (none a real host holds). */
  subnets: string[];
  decoys: string[];
  perSecond: number;
  seconds: number;
  live: number;
}

export interface EtcdChurnReport {
  adds: number;
  removes: number;
  errors: string[];
  maxLive: number;
  /**
   * The most of its leases in etcd at once as the replies tell (puts answered minus deletes answered): above
   * `maxLive` when deletes lag their puts, and what a watch that keeps up may see.
   */
  maxStored: number;
  /** How long the churn took (ms): a writer that fell behind shows here. */
  elapsedMs: number;
}

const plan = JSON.parse(process.argv[2]) as EtcdChurnPlan;
const client = connectEtcd({ endpoints: [plan.endpoint] });
const lease = client.lease(60, { autoKeepAlive: true });
await lease.grant();
const key = (subnet: string) => plan.subnetsPrefix + formatSubnetKey(subnet);
const value = (i: number) =>
  encodeLeaseValue({
    publicIP: plan.decoys[i % plan.decoys.length],
    backendType: 'vxlan',
    backendData: { VNI: 1, VtepMAC: `02:00:5e:10:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}` },
  });
/** Leases out, oldest first, each with its put (a delete waits for the put of its own key). */
const live: { subnet: string; put: Promise<unknown> }[] = [];
const free = [...plan.subnets];
const report: EtcdChurnReport = { adds: 0, removes: 0, errors: [], maxLive: 0, maxStored: 0, elapsedMs: 0 };
let stored = 0;
const storedOne = () => {
  stored++;
  report.maxStored = Math.max(report.maxStored, stored);
};
const note = (error: unknown) => {
  if (report.errors.length < 10) report.errors.push(String(error));
};
/** Writes in flight: etcd commits concurrent writes together, so the rate does not wait on each commit. */
const inFlight = new Set<Promise<unknown>>();
const track = (p: Promise<unknown>) => {
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
};
const MAX_IN_FLIGHT = 200;
const ticks = Math.round(plan.perSecond * plan.seconds);
const intervalMs = 1000 / plan.perSecond;
const origin = performance.now();
for (let i = 0; i < ticks; i++) {
  const wait = origin + i * intervalMs - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
  // One add and (once `live` are out) one remove per tick: 2 · perSecond writes a second.
  const subnet = free.shift()!;
  const put = lease
    .put(key(subnet))
    .value(value(i))
    .then(() => {
      report.adds++;
      storedOne();
    }, note);
  track(put);
  live.push({ subnet, put });
  if (live.length > plan.live) {
    const gone = live.shift()!;
    track(
      gone.put
        .then(() => client.delete().key(key(gone.subnet)))
        .then(() => {
          report.removes++;
          stored--;
        }, note)
        .finally(() => free.push(gone.subnet)),
    );
  }
  report.maxLive = Math.max(report.maxLive, live.length);
}
await Promise.all(inFlight);
report.elapsedMs = Math.round(performance.now() - origin);
await Promise.all(
  live.splice(0).map((l) =>
    client
      .delete()
      .key(key(l.subnet))
      .then(() => report.removes++, note),
  ),
);
await lease.revoke();
client.close();
process.stdout.write(JSON.stringify(report) + '\n');
