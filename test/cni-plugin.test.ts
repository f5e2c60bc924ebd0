// tulle's CNI plugin called directly, as a runtime calls it, with the real bridge and host-local plugins, in
// lab namespaces: a host and "containers" (bare namespaces). What podman does not exercise: an exhausted
// subnet, a bridge failure after host-local allocated, DEL with subnet.env gone, ADD waiting for subnet.env,
// and bad input answered with a CNI error on stdout, never a stack trace.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../src/util/package-root.js';
import { subnetEnv } from '../src/daemon/subnet-env.js';
import { rootLab } from './helpers/lab.js';

const PLUGIN = join(packageRoot(), 'dist', 'src', 'cni', 'main.js');
const CNI_PATH = '/usr/lib/cni';

const lab = rootLab(t);
if (lab) {
  const dir = mkdtempSync(join(tmpdir(), 'tulle-cni-plugin-'));
  chmodSync(dir, 0o755);
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  const host = lab.namespace('cni-host');
  const subnetFile = join(dir, 'subnet.env');
  const leases = join(dir, 'ipam');
  const data = join(dir, 'data');
  const writeSubnet = (subnet: string) => writeFileSync(subnetFile, subnetEnv({ network: '198.18.0.0/16', subnet, mtu: 1400, ipMasq: true }));
  // Each test has its own subnet, so its own bridge: the bridge plugin refuses a bridge holding another subnet's gateway.
  let bridge = 'tbr0';
  const conf = (extra: object = {}) =>
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'tn',
      type: 'tulle',
      subnetFile,
      dataDir: data,
      ipam: { dataDir: leases },
      subnetFileWaitSeconds: 0,
      delegate: { bridge },
      ...extra,
    });
  const env = (command: string, container: string, over: Record<string, string | undefined> = {}) => {
    const e: Record<string, string> = { CNI_COMMAND: command, CNI_CONTAINERID: container, CNI_NETNS: `/run/netns/${container}`, CNI_IFNAME: 'eth0', CNI_PATH };
    for (const [k, v] of Object.entries(over)) {
      if (v === undefined) delete e[k];
      else e[k] = v;
    }
    return Object.entries(e).map(([k, v]) => `${k}=${v}`);
  };
  /** One plugin call in the host namespace: exit code, stdout parsed when there is any, stderr. */
  const call = (command: string, container: string, stdin: string, over: Record<string, string | undefined> = {}) => {
    const r = spawnSync('ip', ['netns', 'exec', host, 'env', '-i', ...env(command, container, over), process.execPath, PLUGIN], {
      input: stdin,
      encoding: 'utf8',
    });
    return {
      status: r.status,
      out: r.stdout.trim() === '' ? undefined : (JSON.parse(r.stdout) as Record<string, unknown>),
      stdout: r.stdout,
      stderr: r.stderr,
    };
  };
  const container = (name: string) => lab.namespace(name);
  const hasEth0 = (ns: string) => lab.ip(ns, '-o', 'link', 'show').includes('eth0');
  const leased = () => (existsSync(join(leases, 'tn')) ? readdirSync(join(leases, 'tn')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []);
  const records = () => (existsSync(data) ? readdirSync(data) : []);
  const veths = () =>
    lab
      .ip(host, '-o', 'link', 'show', 'type', 'veth')
      .split('\n')
      .filter((l) => l !== '').length;

  t.test('bad input: a CNI error on stdout with a non-zero exit, no stack trace', (t) => {
    const k = container('cni-k0');
    const cases: [string, string, Record<string, string | undefined>, number, RegExp][] = [
      ['no stdin', '', {}, 6, /no network configuration on stdin/],
      ['malformed stdin', '{"cniVersion": "1.0.0", ', {}, 6, /not JSON/],
      ['an unknown cniVersion', conf({ cniVersion: '0.2.0' }), {}, 1, /unsupported cniVersion "0.2.0"/],
      ['no CNI_NETNS', conf(), { CNI_NETNS: undefined }, 4, /CNI_NETNS is not set/],
      ['no CNI_COMMAND', conf(), { CNI_COMMAND: undefined }, 4, /CNI_COMMAND is not set/],
    ];
    for (const [what, stdin, over, code, msg] of cases) {
      const r = call('ADD', k, stdin, over);
      t.not(r.status, 0, `${what}: non-zero exit`);
      t.equal(r.out?.code, code, `  code ${code}`);
      t.match(String(r.out?.msg), msg, `  ${String(r.out?.msg)}`);
      t.equal(r.stderr, '', '  nothing on stderr');
    }
    t.same(call('VERSION', k, '{"cniVersion":"1.0.0"}').out, { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] }, 'VERSION');
    t.same([leased(), records(), hasEth0(k)], [[], [], false], 'nothing was set up');
    t.end();
  });

  t.test('an exhausted subnet: the next ADD fails cleanly', (t) => {
    // A /30: the gateway and one address.
    writeSubnet('198.18.9.0/30');
    bridge = 'tbr1';
    const [k1, k2] = [container('cni-k1'), container('cni-k2')];
    const first = call('ADD', k1, conf());
    t.equal(first.status, 0, `the first container gets ${JSON.stringify((first.out?.ips as { address: string }[] | undefined)?.[0]?.address)}`);
    const second = call('ADD', k2, conf());
    t.not(second.status, 0, 'the second ADD fails');
    t.match(String(second.out?.msg), /no IP addresses available/, `with host-local's error (code ${String(second.out?.code)}: ${String(second.out?.msg)})`);
    t.same([leased(), hasEth0(k2), records().length, veths()], [['198.18.9.2'], false, 1, 1], 'only the first container is set up');
    t.equal(call('DEL', k1, conf()).status, 0, 'DEL of the first');
    t.same([leased(), records(), veths()], [[], [], 0], 'nothing left');
    t.end();
  });

  t.test('a bridge failure after host-local allocated releases the address', (t) => {
    writeSubnet('198.18.10.0/24');
    bridge = 'tbr2';
    const k = container('cni-k3');
    // host-local hands out the address and this route; the bridge fails to add the route (its gateway is off-link).
    const r = call('ADD', k, conf({ ipam: { dataDir: leases, routes: [{ dst: '203.0.113.0/24', gw: '192.0.2.99' }] } }));
    t.not(r.status, 0, `ADD fails (${String(r.out?.msg)})`);
    t.same([leased(), records(), veths(), hasEth0(k)], [[], [], 0, false], 'no address, record, veth or interface left');
    t.end();
  });

  t.test('DEL uses what ADD recorded: it works with subnet.env gone (tulle stopped)', (t) => {
    writeSubnet('198.18.11.0/24');
    bridge = 'tbr3';
    const k = container('cni-k4');
    t.equal(call('ADD', k, conf()).status, 0, 'ADD');
    t.same(leased(), ['198.18.11.2'], 'an address');
    rmSync(subnetFile);
    const del = call('DEL', k, conf());
    t.equal(del.status, 0, `DEL succeeds without subnet.env (${del.stdout.trim() || 'no output'})`);
    t.same([leased(), records(), veths(), hasEth0(k)], [[], [], 0, false], 'and releases everything');
    t.equal(call('DEL', k, conf()).status, 0, 'a second DEL succeeds too');
    t.end();
  });

  t.test("CHECK with ADD's result passes: the overlay route names its gateway, as bridge's CHECK wants", (t) => {
    writeSubnet('198.18.13.0/24');
    bridge = 'tbr5';
    const k = container('cni-k6');
    const added = call('ADD', k, conf());
    t.equal(added.status, 0, 'ADD');
    const check = call('CHECK', k, conf({ prevResult: added.out }));
    t.same([check.status, check.stdout], [0, ''], `CHECK passes (${check.stdout.trim() || 'no output'})`);
    t.equal(call('DEL', k, conf({ prevResult: added.out })).status, 0, 'DEL');
    t.end();
  });

  t.test('ADD waits for subnet.env while tulle starts', async (t) => {
    rmSync(subnetFile, { force: true });
    const k = container('cni-k5');
    bridge = 'tbr4';
    const child = spawn('ip', ['netns', 'exec', host, 'env', '-i', ...env('ADD', k), process.execPath, PLUGIN], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(conf({ subnetFileWaitSeconds: 10 }));
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await sleep(700);
    t.equal(child.exitCode, null, 'still waiting after 0.7 s');
    writeSubnet('198.18.12.0/24');
    t.equal(await code, 0, 'then succeeds once subnet.env is written');
    t.match(out, /"198\.18\.12\.2\/24"/, 'with an address in that subnet');
    t.equal(call('DEL', k, conf()).status, 0, 'DEL');
  });
}
