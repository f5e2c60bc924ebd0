/**
 * `tulle demo --runtime podman`: the demo's story with real containers. Three
 * hosts in namespaces run tulle daemons on gossip leases; podman on each host
 * attaches two busybox containers through tulle's CNI plugin; every container
 * pings every other across hosts, a file crosses from host 1 to host 3 with
 * matching SHA-256, and removing the containers (CNI DEL) must release every
 * address. Everything podman writes stays in the lab: its namespaces, the
 * demo's temp folder, the hosts' private /run and /var/lib, and the lab's
 * cgroup parent (src/lab/podman).
 */
import { mkdirSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { formatLeases } from '../../cli/format.js';
import { formatMatrix, fullyReachable } from '../../probe/matrix.js';
import { Lab } from '../netns.js';
import type { PodmanHost } from '../podman/podman-host.js';
import type { PodmanTools } from '../podman/requirements.js';
import { startDaemons, stopDaemons, waitConverged, type DemoDaemon } from './daemons.js';
import { buildHosts, HOST_NAMES } from './hosts.js';
import { pingMatrix } from './ping-matrix.js';
import { startContainers, type PodmanContainer } from './podman-containers.js';
import { podmanExploreText } from './podman-explore.js';
import { DEMO_NETWORK_NAME, leftovers, podmanHosts, startPodmanHosts } from './podman-hosts.js';
import { Progress } from './progress.js';
import { demoDir, type DemoOptions } from './run-demo.js';
import { mibPerSecond, verifiedTransfer } from './verified-transfer.js';

const PINGS = 3;
const TRANSFER_MIB = 64;

/** What CNI DEL should have emptied on one host, as its private /var/lib shows it. */
function listing(p: PodmanHost, lab: Lab) {
  const list = (path: string, keep: (f: string) => boolean = () => true) => (existsSync(p.path(path)) ? readdirSync(p.path(path)).filter(keep) : []);
  const veths = lab
    .ip(p.ns, '-o', 'link', 'show', 'type', 'veth')
    .split('\n')
    .filter((l) => / master cni0 /.test(l)).length;
  return {
    leases: list(`/var/lib/cni/networks/${DEMO_NETWORK_NAME}`, (f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)),
    records: list('/var/lib/cni/tulle'),
    results: list('/var/lib/cni/results'),
    veths,
  };
}

/** Runs the podman demo with the tools found (../podman/requirements.ts); resolves with the exit code. */
export async function runPodmanDemo(options: DemoOptions, tools: PodmanTools): Promise<number> {
  const transfer = options.bench !== false;
  const progress = new Progress(transfer ? 7 : 6);
  const lab = new Lab();
  const dir = demoDir(lab.prefix);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let podmen: PodmanHost[] = [];
  // Registered first, so it runs first on every exit path: podman removes its containers while its
  // configuration (in `dir`) is still there, then the folder goes.
  lab.onDispose(() => {
    for (const p of podmen) p.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  let daemons: DemoDaemon[] = [];
  let labUp = true;
  const teardown = async () => {
    if (!labUp) return;
    labUp = false;
    for (const p of podmen) p.dispose();
    await stopDaemons(daemons);
    lab.dispose();
  };
  try {
    progress.start(`building the lab (${lab.prefix}*): 3 hosts on a bridge, 192.0.2.1-3`);
    const { hosts, gro } = buildHosts(lab);
    progress.done(`veth GRO ${gro}`);

    progress.start('starting a tulle daemon per host (gossip leases, vxlan backend, 198.18.0.0/16, tulle masquerades)');
    const started = Date.now();
    // tulle masquerades what leaves the overlay (FLANNEL_IPMASQ=true), so the bridge plugin adds no iptables rules.
    daemons = await startDaemons(lab, hosts, join(dir, 'tulle'), () => ({ ipMasq: true }));
    progress.update('waiting for the leases to converge');
    const views = await waitConverged(daemons, (counts) => progress.update(`peers routed per host: ${counts.join(', ')} of 2`));
    progress.done(`leases converged ${((Date.now() - started) / 1000).toFixed(1)} s after the first daemon started`);
    const subnets = views.map((v) => v.find((l) => l.state === 'own')!.subnet);
    progress.print(subnets.map((s, i) => `  ${HOST_NAMES[i]} (${hosts[i].underlay}) leased ${s}`).join('\n'));
    progress.print(`\nleases as ${HOST_NAMES[0]} sees them (tulle leases):\n${indent(formatLeases(views[0]))}\n`);

    progress.start(`podman on each host: a private configuration (runc, CNI backend), tulle's CNI plugin and network "${DEMO_NETWORK_NAME}", a busybox image`);
    podmen = podmanHosts(lab, daemons, join(dir, 'podman'), tools);
    await startPodmanHosts(podmen, daemons, tools);
    const version = podmen[0].ok(['version', '--format', '{{.Client.Version}}']);
    progress.done(`podman ${version}; plugin and conflist from \`tulle cni install\` in ${join(dir, 'podman', 'host*')}`);

    progress.start(`starting 2 containers per host (podman run --network ${DEMO_NETWORK_NAME}: tulle's plugin, bridge cni0, host-local)`);
    // The hosts start theirs at once: each podman run waits on the plugin's Node start-up.
    const containers: PodmanContainer[] = (await Promise.all(podmen.map((p, i) => startContainers(p, i, DEMO_NETWORK_NAME, subnets[i])))).flat();
    progress.done(containers.map((c) => `${c.name} ${c.address}`).join(', '));

    progress.start(`reachability: every container to every other (busybox ping inside the containers, ${PINGS} each)`);
    const matrix = await pingMatrix(containers, PINGS);
    const all = fullyReachable(matrix);
    if (all) progress.done('all 30 pairs reachable');
    else progress.fail('NOT every pair is reachable');
    progress.print(`\nmedian RTT (ms) from row to column:\n${indent(formatMatrix(matrix))}\n`);
    if (!all) {
      progress.print(`the daemons' logs: ${daemons.map((d) => d.log).join(', ')}`);
      return 1;
    }

    if (transfer) {
      const [from, to] = [containers[0], containers[containers.length - 1]];
      progress.start(`a verified transfer: ${TRANSFER_MIB} MiB of random bytes from ${from.name} to ${to.name} (busybox nc, SHA-256 on both ends)`);
      const t = await verifiedTransfer(from, to, TRANSFER_MIB);
      if (t.sent !== t.received) {
        progress.fail(`SHA-256 differs: sent ${t.sent}, received ${t.received}`);
        return 1;
      }
      progress.done(`${TRANSFER_MIB} MiB in ${t.seconds.toFixed(1)} s (${mibPerSecond(t).toFixed(0)} MiB/s), SHA-256 equal (${t.sent.slice(0, 16)}…)`);
    }

    if (options.keep) {
      progress.start('keeping the lab up (--keep)');
      lab.release();
      for (const p of podmen) p.release();
      for (const d of daemons) d.child.unref();
      labUp = false;
      progress.done(`namespaces ${lab.prefix}*, state in ${dir}`);
      progress.print(
        `\n${podmanExploreText({
          hosts: daemons.map((d, i) => ({ name: HOST_NAMES[i], ns: d.host.ns, stateDir: d.stateDir, log: d.log, podman: podmen[i].wrapper })),
          containers: containers.map((c) => ({ name: c.name, address: c.address })),
        })}`,
      );
      progress.print(`\ndone in ${progress.elapsed()}`);
      return 0;
    }

    progress.start("removing the containers (podman rm: the CNI plugin's DEL), stopping the daemons, removing the lab");
    await Promise.all(podmen.map((p) => p.okAsync(['rm', '-a', '-f', '-t', '0'])));
    const left = podmen.flatMap((p, i) => leftovers(HOST_NAMES[i], listing(p, lab)));
    await teardown();
    if (left.length > 0) {
      progress.fail('CNI DEL left state behind');
      for (const l of left) progress.print(`  ${l}`);
      return 1;
    }
    progress.done('every address released; no veth, CNI result or attachment record left');
    progress.print(`\ndone in ${progress.elapsed()}`);
    return 0;
  } catch (error) {
    progress.fail((error as Error).message);
    return 1;
  } finally {
    await teardown();
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
