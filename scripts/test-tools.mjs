// The programs the tests use, and the Debian package that brings each. `npm run test:setup` installs them
// (as root, with apt-get); `npm test` checks them first (pretest) and names what is missing, instead of a
// test failing deep inside on a missing command.
//
//   node scripts/test-tools.mjs check     exit 1 with one line per missing program and its package
//   node scripts/test-tools.mjs install   apt-get install the packages of the missing programs
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** program → [Debian package, what needs it]. */
export const TOOLS = {
  ip: ['iproute2', 'namespaces, veth, vxlan devices'],
  bridge: ['iproute2', 'the kernel vxlan forwarding table'],
  ping: ['iputils-ping', 'reachability checks'],
  iperf3: ['iperf3', 'the bench'],
  perf: ['linux-perf', "the bench's CPU profile (the cost model)"],
  ethtool: ['ethtool', 'offload checks'],
  tcpdump: ['tcpdump', 'captures of what crosses the underlay'],
  socat: ['socat', 'the bench row of socat'],
  nft: ['nftables', 'partitions and firewall tests'],
  iptables: ['iptables', 'the Docker-style FORWARD DROP tests'],
  'iptables-legacy': ['iptables', 'the Docker-style FORWARD DROP tests'],
  sysctl: ['procps', 'namespace sysctls'],
  etcd: ['etcd-server', 'the etcd store tests'],
  etcdctl: ['etcd-client', 'the etcd store tests'],
  'wireguard-go': ['wireguard-go', 'the bench row of wireguard-go'],
  wg: ['wireguard-tools', 'the bench row of wireguard-go'],
  nebula: ['nebula', 'the bench row of nebula'],
  tincd: ['tinc', 'the bench row of tinc'],
  'clang-format': ['clang-format', 'npm run lint (native/src)'],
  podman: ['podman', 'the CNI plugin under a real runtime'],
  runc: ['runc', 'the CNI plugin under a real runtime (crun refuses hybrid cgroups)'],
  busybox: ['busybox-static', "the CNI test's container image"],
  '/usr/lib/cni/bridge': ['containernetworking-plugins', "the plugins tulle's CNI plugin delegates to"],
  zsh: ['zsh', 'the zsh completion test'],
};

const PATH_DIRS = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];

function found(program) {
  // A plugin folder such as /usr/lib/cni is on no PATH: those programs are named by their full path.
  if (program.startsWith('/')) return executable(program);
  return PATH_DIRS.some((dir) => executable(join(dir, program)));
}

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function missing() {
  return Object.entries(TOOLS).filter(([program]) => !found(program));
}

const command = process.argv[2];
const absent = missing();
if (command === 'check') {
  if (absent.length === 0) process.exit(0);
  process.stderr.write(`The tests need programs this machine lacks:\n`);
  for (const [program, [pkg, why]] of absent) process.stderr.write(`  ${program} (Debian package ${pkg}): ${why}\n`);
  const packages = [...new Set(absent.map(([, [pkg]]) => pkg))];
  process.stderr.write(`Install them with \`npm run test:setup\` (as root), or: apt-get install ${packages.join(' ')}\n`);
  process.exit(1);
} else if (command === 'install') {
  const packages = [...new Set(absent.map(([, [pkg]]) => pkg))];
  if (packages.length === 0) {
    console.log('test:setup: every program the tests use is installed');
    process.exit(0);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(`test:setup: installing ${packages.join(' ')} needs root (apt-get)\n`);
    process.exit(4);
  }
  console.log(`test:setup: apt-get install ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const still = missing();
  if (still.length > 0) {
    process.stderr.write(`test:setup: still missing after apt-get: ${still.map(([p]) => p).join(', ')}\n`);
    process.exit(1);
  }
} else {
  process.stderr.write('usage: node scripts/test-tools.mjs check|install\n');
  process.exit(2);
}
