// tulle's CNI plugin under a real runtime: three lab hosts on gossip leases and the vxlan backend, podman
// (CNI backend) on each with the plugin from `tulle cni install`. Containers get addresses in their host's
// lease and reach each other across hosts; a 64 MiB stream arrives whole; removal releases the address; a
// daemon restart keeps containers reachable; CHECK (which podman 4.3 never sends) is called directly; an ADD
// before tulle is up fails cleanly. Everything podman makes lives in the lab namespaces, the test's temp
// folder and the keepers' private /run and /var/lib (see src/lab/podman/podman-host.ts).
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { switchedHosts } from '../src/lab/topology.js';
import { rootLab } from './helpers/lab.js';
import { CLI, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { IMAGE, PodmanHost } from '../src/lab/podman/podman-host.js';

const NET = 'tulle';
const LEASES = `/var/lib/cni/networks/${NET}`;
const RECORDS = '/var/lib/cni/tulle';

function ipv4(text: string): number {
  return text.split('.').reduce((w, p) => ((w << 8) | Number(p)) >>> 0, 0);
}

function inSubnet(address: string, subnet: string): boolean {
  const [net, len] = subnet.split('/');
  const mask = (0xffffffff << (32 - Number(len))) >>> 0;
  return (ipv4(address) & mask) >>> 0 === ipv4(net);
}

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-cni-podman-'));
  chmodSync(dir, 0o755);
  const hosts = switchedHosts(lab, ['p1', 'p2', 'p3']);
  const key = randomBytes(32).toString('base64');
  const stateDir = (i: number) => join(dir, `state-${i}`);
  const subnetFile = (i: number) => join(stateDir(i), 'subnet.env');
  const files = hosts.map((h, i) => {
    const file = join(dir, `host-${i}.yaml`);
    writeFileSync(
      file,
      stringify({
        network: '198.18.0.0/16',
        underlay: { address: h.underlay },
        backend: { type: 'vxlan' },
        // tulle masquerades what leaves the overlay, so the bridge does not (FLANNEL_IPMASQ=true).
        ipMasq: true,
        store: { type: 'gossip', key, preset: 'local', peers: i === 0 ? [] : [hosts[0].underlay] },
        stateDir: stateDir(i),
      }),
    );
    return file;
  });
  const daemons: (RunningDaemon | undefined)[] = [undefined, undefined, undefined];
  t.teardown(async () => {
    for (const d of daemons) if (d !== undefined && d.child.exitCode === null) await d.stop();
  });
  const start = async (i: number) => (daemons[i] = await startDaemon(lab, hosts[i].ns, files[i], stateDir(i)));
  const routedEverywhere = async () => {
    for (let n = 0; n < 300; n++) {
      const counts = await Promise.all(daemons.map(async (d) => (d ? (await d.leases()).filter((l) => l.state === 'routed').length : -1)));
      if (counts.every((c) => c === 2)) return true;
      await sleep(100);
    }
    return false;
  };

  const podmen = hosts.map((h, i) => new PodmanHost(lab, h.ns, join(dir, `podman-${i}`)));
  // After the PodmanHosts': they remove their containers with podman, whose configuration is in this folder.
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const containers = new Map<string, { host: number; address: string }>();

  /** `podman run -d` on host i; returns the container's address on the tulle network. */
  const run = (i: number, name: string, extra: string[] = []): string => {
    podmen[i].runOk(['-d', '--name', name, '--network', NET, ...extra, IMAGE, 'sleep', '3600']);
    const address = podmen[i].ok(['inspect', '--format', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`, name]);
    containers.set(name, { host: i, address });
    return address;
  };
  const remove = (name: string) => {
    podmen[containers.get(name)!.host].ok(['rm', '-f', '-t', '0', name]);
    containers.delete(name);
  };
  /** Pings each of `targets` from container `name` (two tries each); returns the addresses that did not answer. */
  const unreachable = (name: string, targets: string[]): string[] => {
    const loop = `for ip in ${targets.join(' ')}; do ping -c 1 -W 2 $ip >/dev/null 2>&1 || ping -c 1 -W 2 $ip >/dev/null 2>&1 || echo $ip; done`;
    const r = podmen[containers.get(name)!.host].podman(['exec', name, 'sh', '-c', loop]);
    return r.stdout.split('\n').filter((l) => l !== '');
  };
  const leaseFiles = (i: number) =>
    existsSync(podmen[i].path(LEASES)) ? readdirSync(podmen[i].path(LEASES)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  const records = (i: number) => (existsSync(podmen[i].path(RECORDS)) ? readdirSync(podmen[i].path(RECORDS)) : []);
  // The containers' host ends: the veths on the bridge (eth0, the underlay, is a veth too).
  const veths = (i: number) =>
    lab
      .ip(hosts[i].ns, '-o', 'link', 'show', 'type', 'veth')
      .split('\n')
      .filter((l) => / master cni0 /.test(l)).length;

  t.before(async () => {
    for (const [i, p] of podmen.entries()) {
      await p.start();
      p.importImage();
      const r = spawnSync(process.execPath, [CLI, 'cni', 'install', '--conf-dir', p.netConfDir, '--bin-dir', p.binDir, '--subnet-file', subnetFile(i)], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`tulle cni install failed: ${r.stderr}`);
    }
  });

  t.test('ADD before tulle is up fails cleanly, and works once tulle is up', async (t) => {
    await start(0);
    await start(1);
    // Host 3's plugin waits 2 s for subnet.env instead of 10 s, to keep the test short.
    const conflist = join(podmen[2].netConfDir, `10-${NET}.conflist`);
    const conf = JSON.parse(readFileSync(conflist, 'utf8')) as { plugins: Record<string, unknown>[] };
    conf.plugins[0].subnetFileWaitSeconds = 2;
    writeFileSync(conflist, JSON.stringify(conf));
    const early = podmen[2].run(['-d', '--name', 'early', '--network', NET, IMAGE, 'sleep', '3600']);
    t.not(early.status, 0, 'podman run fails while tulle is not running on the host');
    t.match(early.stderr, `${subnetFile(2)} is missing`, `the error names the file (${early.stderr.trim().split('\n').pop()})`);
    t.same(leaseFiles(2), [], 'no address allocated');
    t.same(records(2), [], 'no attachment recorded');
    t.equal(veths(2), 0, 'no veth left on the host');
    podmen[2].ok(['rm', '-f', '-t', '0', 'early']);
    await start(2);
    t.ok(await routedEverywhere(), 'each host routes to the two others');
    const address = run(2, 'c3a');
    const subnet = (await daemons[2]!.status()).subnet;
    t.ok(inSubnet(address, subnet), `once tulle is up the container starts, with ${address} in the host's lease ${subnet}`);
  });

  t.test("containers on every host get addresses in their host's lease and reach every other", async (t) => {
    for (const [i, name] of [
      [0, 'c1a'],
      [0, 'c1b'],
      [1, 'c2a'],
      [1, 'c2b'],
      [2, 'c3b'],
    ] as const) {
      run(i, name);
    }
    for (const [i, d] of daemons.entries()) {
      const subnet = (await d!.status()).subnet;
      const mine = [...containers].filter(([, c]) => c.host === i);
      t.ok(
        mine.every(([, c]) => inSubnet(c.address, subnet)),
        `host ${i + 1}: ${mine.map(([n, c]) => `${n} ${c.address}`).join(', ')} in ${subnet}`,
      );
      t.same(leaseFiles(i).sort(), mine.map(([, c]) => c.address).sort(), `host ${i + 1}: host-local's store holds exactly those addresses`);
    }
    const all = [...containers];
    for (const [name] of all) {
      const others = all.filter(([n]) => n !== name).map(([, c]) => c.address);
      t.same(unreachable(name, others), [], `${name} reaches the ${others.length} others`);
    }
  });

  t.test('a 64 MiB stream from a container on host 1 to one on host 3 arrives whole', async (t) => {
    const to = containers.get('c3a')!.address;
    podmen[0].ok(['exec', 'c1a', 'dd', 'if=/dev/urandom', 'of=/tmp/blob', 'bs=1048576', 'count=64'], { timeoutMs: 60_000 });
    const sent = podmen[0].ok(['exec', 'c1a', 'sha256sum', '/tmp/blob']).split(' ')[0];
    // busybox nc closes its sending half when its stdin ends, which ends the sender's too: the receiver's stdin must stay open.
    podmen[2].ok(['exec', '-d', 'c3a', 'sh', '-c', 'sleep 3600 | nc -l -p 5001 > /tmp/got']);
    await sleep(300);
    const began = Date.now();
    const send = podmen[0].podman(['exec', 'c1a', 'sh', '-c', `nc ${to} 5001 < /tmp/blob`], { timeoutMs: 120_000 });
    t.equal(send.status, 0, `nc sent it (${send.stderr.trim() || 'no complaint'})`);
    let size = 0;
    for (let n = 0; n < 100 && size < 64 << 20; n++) {
      size = Number(podmen[2].ok(['exec', 'c3a', 'stat', '-c', '%s', '/tmp/got']));
      if (size < 64 << 20) await sleep(100);
    }
    t.equal(size, 64 << 20, `64 MiB arrived (${((Date.now() - began) / 1000).toFixed(1)} s)`);
    const got = podmen[2].ok(['exec', 'c3a', 'sha256sum', '/tmp/got']).split(' ')[0];
    t.equal(got, sent, `same SHA-256 (${sent.slice(0, 16)}…)`);
  });

  t.test('podman rm -f releases the address, and a new container can take it', async (t) => {
    const address = containers.get('c2b')!.address;
    t.ok(leaseFiles(1).includes(address), `host-local's store holds ${address}`);
    const before = records(1).length;
    remove('c2b');
    t.notOk(leaseFiles(1).includes(address), `after podman rm -f, ${address} is free in host-local's store`);
    t.equal(records(1).length, before - 1, "the container's attachment record is gone");
    const again = run(1, 'c2c', ['--ip', address]);
    t.equal(again, address, `a new container takes ${address}`);
    t.same(unreachable('c2c', [containers.get('c1a')!.address, containers.get('c3a')!.address]), [], 'and reaches hosts 1 and 3');
  });

  t.test('a tulle restart leaves running containers reachable, and the next ADD works', async (t) => {
    const subnet = (await daemons[1]!.status()).subnet;
    t.equal(await daemons[1]!.stop(), 0, 'tulle on host 2 stops cleanly');
    await start(1);
    t.equal((await daemons[1]!.status()).subnet, subnet, 'it comes back with the same lease');
    t.ok(await routedEverywhere(), 'each host routes to the two others again');
    const targets = [...containers].filter(([, c]) => c.host !== 1).map(([, c]) => c.address);
    t.same(unreachable('c2a', targets), [], `c2a, running all along, reaches the ${targets.length} containers on hosts 1 and 3`);
    t.same(unreachable('c1a', [containers.get('c2a')!.address]), [], 'and c1a reaches c2a');
    const address = run(1, 'c2d');
    t.ok(inSubnet(address, subnet), `a new container on host 2 starts (${address})`);
    t.same(unreachable('c2d', [containers.get('c3a')!.address]), [], 'and reaches c3a');
  });

  t.test('CHECK passes on a healthy container and fails with a CNI error once its address is gone', async (t) => {
    const p = podmen[0];
    const [id, pid, netns] = p.ok(['inspect', '--format', '{{.Id}} {{.State.Pid}} {{.NetworkSettings.SandboxKey}}', 'c1b']).split(' ');
    const cached = JSON.parse(readFileSync(p.path(`/var/lib/cni/results/${NET}-${id}-eth0`), 'utf8')) as { result: object };
    const conflist = JSON.parse(readFileSync(join(p.netConfDir, `10-${NET}.conflist`), 'utf8')) as { cniVersion: string; plugins: object[] };
    const conf = JSON.stringify({ cniVersion: conflist.cniVersion, name: NET, ...conflist.plugins[0], prevResult: cached.result });
    const check = () =>
      p.exec([join(p.binDir, 'tulle')], {
        input: conf,
        env: { CNI_COMMAND: 'CHECK', CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: `${p.binDir}:/usr/lib/cni`, CNI_ARGS: '' },
      });
    const healthy = check();
    t.same([healthy.status, healthy.stdout], [0, ''], `CHECK passes (${healthy.stdout.trim() || 'no output'})`);
    const address = containers.get('c1b')!.address;
    const del = spawnSync('nsenter', ['-t', pid, '-n', 'ip', 'addr', 'del', `${address}/${(await daemons[0]!.status()).subnet.split('/')[1]}`, 'dev', 'eth0']);
    t.equal(del.status, 0, `${address} removed inside the container`);
    const broken = check();
    t.not(broken.status, 0, 'CHECK fails');
    const error = JSON.parse(broken.stdout) as { code: number; msg: string };
    t.ok(Number.isInteger(error.code) && error.code > 0, `a CNI error: code ${error.code}`);
    t.match(error.msg, address, `its message names the address (${error.msg})`);
    remove('c1b');
  });

  t.test('removing every container leaves no address, record or veth', async (t) => {
    for (const name of [...containers.keys()]) remove(name);
    for (const i of [0, 1, 2]) {
      t.same(leaseFiles(i), [], `host ${i + 1}: no address in host-local's store`);
      t.same(records(i), [], `host ${i + 1}: no attachment record`);
      t.equal(veths(i), 0, `host ${i + 1}: no veth`);
      t.same(readdirSync(podmen[i].path('/var/lib/cni/results')), [], `host ${i + 1}: no cached result`);
    }
  });
}
