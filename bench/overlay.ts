/**
 * Overlay benchmark: the same traffic over the bare underlay, a Linux kernel
 * vxlan device and tulle, on a 2-host lab (two namespaces on a bridge, veth
 * GRO on), measured in one run so the rows are comparable.
 *
 * Rows (each measured on freshly made namespaces, devices and daemons, torn
 * down before the next row starts):
 *   underlay             the hosts' underlay addresses (192.0.2.1 → 192.0.2.2)
 *   kernel-vxlan         a kernel vxlan device per host (VNI 1, port 4789, MTU 1450)
 *   tulle-udp            tulle daemons, udp backend, MTU 1472, batch 64, every offload
 *   tulle-vxlan          the same with the vxlan backend (VNI 1, port 4789), MTU 1450
 *   tulle-host-gw        tulle installing host-gw routes; traffic between the subnets' bridge addresses
 *   ladder-1..3          the same with no offloads at batch 1, then batching, then
 *                        TUN offloads: what each step buys (tulle-udp adds UDP GSO/GRO)
 *
 * Per row: ping RTT (20 pings, 0.05 s apart, average), iperf3 TCP 1 stream and
 * 4 streams, iperf3 UDP unpaced at 1400-byte payload (receiver's packets/s and
 * loss), and for tulle rows the CPU time of both daemons during the TCP
 * 1-stream test (utime+stime from /proc/<pid>/stat) as percent of one core.
 * Repetitions run round-robin across the rows; reported are the median and
 * the min–max of each metric.
 *
 *   node dist/bench/overlay.js [--duration S] [--reps N] [--rows LIST] [--out DIR]
 *
 * Writes DIR/results.json, DIR/results.md, DIR/results.svg (and results.png if
 * rsvg-convert is installed); progress goes to stderr, the Markdown table to stdout.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Lab, leftoverNamespaces } from '../src/lab/netns.js';
import { startDaemon, switchedHosts, type Daemon, type Host } from '../src/lab/topology.js';
import { packageRoot } from '../src/util/package-root.js';

// ---------------------------------------------------------------- rows and options

interface RowSpec {
  /** Name on the command line and in file names. */
  id: string;
  /** Name in the results ("system"). */
  system: string;
  kind: 'underlay' | 'kernel-vxlan' | 'tulle';
  batch?: number;
  offloads?: { tun: boolean; udpGso: boolean; udpGro: boolean };
  backend?: 'udp' | 'vxlan' | 'host-gw';
}

const ALL = { tun: true, udpGso: true, udpGro: true };
const NONE = { tun: false, udpGso: false, udpGro: false };
// The main row, then the ladder: what each step buys, from one packet per call upwards.
const ROWS: RowSpec[] = [
  { id: 'underlay', system: 'underlay', kind: 'underlay' },
  { id: 'kernel-vxlan', system: 'kernel-vxlan', kind: 'kernel-vxlan' },
  { id: 'tulle-udp', system: 'tulle-udp', kind: 'tulle', batch: 64, offloads: ALL },
  { id: 'tulle-vxlan', system: 'tulle-vxlan', kind: 'tulle', batch: 64, offloads: ALL, backend: 'vxlan' },
  { id: 'tulle-host-gw', system: 'tulle-host-gw', kind: 'tulle', backend: 'host-gw' },
  { id: 'ladder-1', system: 'tulle-udp: no offloads, batch 1', kind: 'tulle', batch: 1, offloads: NONE },
  { id: 'ladder-2', system: 'tulle-udp: + batching (64)', kind: 'tulle', batch: 64, offloads: NONE },
  { id: 'ladder-3', system: 'tulle-udp: + TUN offloads', kind: 'tulle', batch: 64, offloads: { tun: true, udpGso: false, udpGro: false } },
];

const UDP_PAYLOAD = 1400;
const PINGS = 20;
const PING_INTERVAL = 0.05;
const VXLAN_MTU = 1450;
const TULLE_MTU = 1472;
const IPERF_PORT = 5201;
const METRICS = ['tcp1_gbps', 'tcp4_gbps', 'udp_kpps', 'udp_loss_pct', 'rtt_ms', 'cpu_pct'] as const;
type Metric = (typeof METRICS)[number];

const USAGE = `usage: node dist/bench/overlay.js [--duration S] [--reps N] [--rows LIST] [--out DIR]
  --duration S  seconds per iperf3 test (default 5)
  --reps N      repetitions, round-robin across the rows (default 1)
  --rows LIST   comma-separated, from: ${ROWS.map((r) => r.id).join(', ')} (default all)
  --out DIR     where results.json/.md/.svg go (default bench/results/)`;

function fail(message: string, code = 2): never {
  process.stderr.write(`overlay bench: ${message}\n`);
  process.exit(code);
}

let parsed: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      reps: { type: 'string', default: '1' },
      rows: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
try {
  parsed = parseOptions();
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`);
}
const args = parsed.values;
if (args.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const duration = Number(args.duration);
if (!Number.isInteger(duration) || duration < 1 || duration > 600) fail(`--duration must be a whole number of seconds from 1 to 600, got ${args.duration}`);
const reps = Number(args.reps);
if (!Number.isInteger(reps) || reps < 1 || reps > 50) fail(`--reps must be a whole number from 1 to 50, got ${args.reps}`);
const rows: RowSpec[] = args.rows === undefined ? ROWS : args.rows.split(',').map((name) => name.trim()).filter(Boolean).map((name) => {
  const row = ROWS.find((r) => r.id === name || r.system === name);
  if (!row) fail(`unknown row "${name}"; rows are: ${ROWS.map((r) => r.id).join(', ')}`);
  return row;
});
if (rows.length === 0) fail('--rows names no row');
const root = packageRoot();
const outDir = args.out === undefined ? join(root, 'bench', 'results') : resolve(args.out);

// ---------------------------------------------------------------- preflight

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/local/sbin']) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

if (process.getuid?.() !== 0) fail('needs root (it creates network namespaces, veth, vxlan and TUN devices); run it with sudo');
for (const tool of ['iperf3', 'ip', 'ping']) {
  if (!onPath(tool)) fail(`${tool} is not installed (Debian: apt-get install -y ${tool === 'ip' ? 'iproute2' : tool === 'ping' ? 'iputils-ping' : tool})`);
}
if (rows.some((r) => r.kind === 'kernel-vxlan') && !onPath('bridge')) fail('bridge (iproute2) is not installed; the kernel-vxlan row needs it');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(cli)) fail(`dist/ is not built (${cli} is missing): run \`npx tsc -p .\` (or \`npm run build\`) first`);
const addonBuilt = ['Release', 'Debug'].some((d) => existsSync(join(root, 'native', 'build', d, 'tulle.node')));
if (rows.some((r) => r.kind === 'tulle') && !addonBuilt) fail('the native addon is not built (native/build/Release/tulle.node is missing): run `npm ci` or `node scripts/build-native.mjs`');
const ethtool = onPath('ethtool');

// ---------------------------------------------------------------- helpers

const t0 = Date.now();
function say(line: string): void {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}

interface Result { code: number | null; stdout: string; stderr: string; timedOut: boolean }

/** Runs `command` in `ns` without blocking the event loop; SIGKILLs it (by PID) after `timeoutMs`. */
function execIn(lab: Lab, ns: string, command: string[], timeoutMs: number): Promise<Result> {
  return new Promise((resolveResult) => {
    const child = lab.spawn(ns, command);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined && child.exitCode === null) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }, timeoutMs);
    child.once('error', (error) => { stderr += error.message; });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveResult({ code, stdout, stderr, timedOut });
    });
  });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------- measurements

async function waitForPath(lab: Lab, ns: string, target: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const r = await execIn(lab, ns, ['ping', '-c', '1', '-W', '1', target], 3_000);
    if (r.code === 0) return;
    await sleep(250);
  }
  throw new Error(`${target} does not answer pings from ${ns}`);
}

async function pingRtt(lab: Lab, ns: string, target: string): Promise<number> {
  const r = await execIn(lab, ns, ['ping', '-q', '-c', String(PINGS), '-i', String(PING_INTERVAL), '-W', '2', '-w', '10', target], 15_000);
  const m = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(r.stdout);
  if (!m) throw new Error(`ping ${target}: no RTT in its output (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stdout.trim()} ${r.stderr.trim()}`);
  return Number(m[1]);
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { seconds: number; bytes: number; bits_per_second: number; packets?: number; lost_packets?: number; lost_percent?: number };
    sum_sent?: { seconds: number; bytes: number; bits_per_second: number; packets?: number };
  };
}

/** One iperf3 test: a one-off server in `server.ns`, the client in `client.ns`, both bounded in time. */
async function iperf(lab: Lab, server: Host, client: Host, target: string, extra: string[]): Promise<IperfJson> {
  const srv = lab.spawn(server.ns, ['iperf3', '-s', '-1', '-p', String(IPERF_PORT), '--rcv-timeout', '10000']);
  const srvExit = new Promise<void>((r) => (srv.exitCode !== null ? r() : srv.once('exit', () => r())));
  try {
    // Wait until the server listens (bounded).
    for (let i = 0; ; i++) {
      const ss = await execIn(lab, server.ns, ['ss', '-Hltn', `sport = :${IPERF_PORT}`], 3_000);
      if (ss.stdout.trim() !== '') break;
      if (srv.exitCode !== null) throw new Error(`iperf3 server exited with ${srv.exitCode} before listening`);
      if (i >= 50) throw new Error('iperf3 server did not listen within 5 s');
      await sleep(100);
    }
    const r = await execIn(lab, client.ns,
      ['iperf3', '-c', target, '-p', String(IPERF_PORT), '-t', String(duration), '-J', '--connect-timeout', '5000', ...extra],
      duration * 1000 + 20_000);
    let json: IperfJson;
    try {
      json = JSON.parse(r.stdout) as IperfJson;
    } catch {
      throw new Error(`iperf3 ${extra.join(' ')} → ${target}: no JSON (exit ${r.code}${r.timedOut ? ', killed after the timeout' : ''}): ${r.stderr.trim().slice(0, 300)}`);
    }
    if (json.error) throw new Error(`iperf3 ${extra.join(' ')} → ${target}: ${json.error}`);
    if (!json.end?.sum_received) throw new Error(`iperf3 ${extra.join(' ')} → ${target}: no receiver summary in the JSON`);
    return json;
  } finally {
    await Promise.race([srvExit, sleep(2_000)]);
    if (srv.exitCode === null && srv.pid !== undefined) {
      try { process.kill(srv.pid, 'SIGKILL'); } catch { /* gone */ }
      await Promise.race([srvExit, sleep(2_000)]);
    }
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).stdout?.trim()) || 100;

/** utime + stime of a whole process (all its threads), in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Udp counters of the namespace (RcvbufErrors, InErrors, …) from /proc/net/snmp. */
function udpSnmp(lab: Lab, ns: string): Record<string, number> {
  const text = lab.exec(ns, ['cat', '/proc/net/snmp'], { timeoutMs: 5_000, allowFailure: true });
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return {};
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

/** TX drops of a device (packets the kernel dropped on the way into it, e.g. a full TUN queue). */
function txDropped(lab: Lab, ns: string, dev: string): number | null {
  try {
    const j = JSON.parse(lab.exec(ns, ['ip', '-s', '-j', 'link', 'show', dev], { timeoutMs: 5_000 })) as { stats64?: { tx?: { dropped?: number } } }[];
    return j[0]?.stats64?.tx?.dropped ?? null;
  } catch {
    return null;
  }
}

/**
 * What code a tulle row ran: a hash of the compiled JavaScript under dist/src and of the native
 * addon, so a rebuild in the middle of a run (rows measuring different code) shows up.
 */
function buildFingerprint(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []);
  const files = [...walk(join(root, 'dist', 'src')).sort(), join(root, 'native', 'build', 'Release', 'tulle.node')];
  for (const file of files) {
    if (!existsSync(file)) continue;
    hash.update(file.slice(root.length)).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 12);
}

/** Newest modification time (ms) of the files under `dir` whose names end with one of `exts`. */
function newest(dir: string, exts: string[]): number {
  if (!existsSync(dir)) return 0;
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) max = Math.max(max, newest(path, exts));
    else if (exts.some((x) => e.name.endsWith(x))) max = Math.max(max, statSync(path).mtimeMs);
  }
  return max;
}

// ---------------------------------------------------------------- one row

/**
 * Temp folders of running daemons (config and stats files). Daemon.stop()
 * removes its own; when a signal ends the run, the Lab SIGKILLs the daemons,
 * and these hooks remove what they leave.
 */
const daemonDirs = new Set<string>();
function removeDaemonDirs(): void {
  for (const dir of daemonDirs) rmSync(dir, { recursive: true, force: true });
  daemonDirs.clear();
}
process.on('exit', removeDaemonDirs);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, removeDaemonDirs);

function trackDaemon(daemon: Daemon): Daemon {
  const args = daemon.process.spawnargs;
  const config = args[args.indexOf('--config') + 1];
  if (config && config.includes('tulle-daemon-')) daemonDirs.add(dirname(config));
  return daemon;
}

interface Sample {
  system: string;
  rep: number;
  tcp1_gbps: number | null;
  tcp4_gbps: number | null;
  udp_kpps: number | null;
  udp_loss_pct: number | null;
  rtt_ms: number | null;
  cpu_pct: number | null;
  /** Per-daemon CPU during TCP ×1 (tulle rows). */
  cpu_pct_per_daemon?: number[];
  udp_sender_kpps?: number | null;
  /** Where UDP datagrams were lost during the UDP test: the sender's overlay device, the receiver's sockets. */
  udp_drops?: { sender_dev: string; sender_dev_tx_dropped: number | null; receiver_udp_rcvbuf_errors: number | null; receiver_udp_in_errors: number | null };
  tulle_counters?: Record<string, Record<string, number>>;
  gro: Record<string, string>;
  /** buildFingerprint() when the row started. */
  build: string;
  /** The daemons' start-up lines (backend, offloads …), tulle rows. */
  daemon_log?: string[];
  /** /proc/loadavg (1 min) when the row started. */
  loadavg_1m: number;
  warnings: string[];
  errors: string[];
}

function macOf(i: number): string {
  return `02:00:5e:10:00:0${i + 1}`;
}

/** Turns GRO on for every veth in the lab (hosts' eth0 and the bridge ports); returns what ethtool says now. */
function setGro(lab: Lab, hosts: Host[]): Record<string, string> {
  const state: Record<string, string> = {};
  const sw = lab.prefix + 'sw';
  const devices: [string, string, string][] = [
    ...hosts.map((h): [string, string, string] => [h.ns, h.dev, `${h.ns.slice(lab.prefix.length)}:${h.dev}`]),
    ...hosts.map((h): [string, string, string] => [sw, `p-${h.ns.slice(lab.prefix.length)}`.slice(0, 15), `sw:p-${h.ns.slice(lab.prefix.length)}`]),
  ];
  for (const [ns, dev, label] of devices) {
    if (!ethtool) {
      state[label] = 'unknown (no ethtool)';
      continue;
    }
    lab.exec(ns, [ethtool, '-K', dev, 'gro', 'on'], { allowFailure: true, timeoutMs: 10_000 });
    const k = lab.exec(ns, [ethtool, '-k', dev], { allowFailure: true, timeoutMs: 10_000 });
    const m = /generic-receive-offload: (\w+)/.exec(k);
    state[label] = m ? m[1] : 'unknown';
  }
  return state;
}

async function measureRow(spec: RowSpec, rep: number, runTag: string, index: number): Promise<Sample> {
  const sample: Sample = {
    system: spec.system, rep, tcp1_gbps: null, tcp4_gbps: null, udp_kpps: null, udp_loss_pct: null, rtt_ms: null, cpu_pct: null, gro: {}, build: buildFingerprint(),
    loadavg_1m: os.loadavg()[0], warnings: [], errors: [],
  };
  const foreign = leftoverNamespaces();
  if (foreign.length > 0) {
    const message = `other lab namespaces exist while this row runs (${foreign.join(', ')}): another test or bench shares the CPUs, numbers may be low or noisy`;
    sample.warnings.push(message);
    say(`${spec.system} (rep ${rep}/${reps}): WARNING ${message}`);
  }
  const lab = new Lab(`${runTag}r${index}`);
  const daemons: Daemon[] = [];
  try {
    say(`${spec.system} (rep ${rep}/${reps}): building the lab (${lab.prefix}*)`);
    const [a, b] = switchedHosts(lab, ['a', 'b']);
    sample.gro = setGro(lab, [a, b]);
    let target: string;
    if (spec.kind === 'underlay') {
      target = b.underlay;
    } else if (spec.kind === 'kernel-vxlan') {
      const hosts = [a, b];
      hosts.forEach((h, i) => {
        lab.ip(h.ns, 'link', 'add', 'vx0', 'address', macOf(i), 'type', 'vxlan', 'id', '1', 'dstport', '4789', 'local', h.underlay, 'dev', h.dev, 'nolearning');
        lab.ip(h.ns, 'link', 'set', 'vx0', 'mtu', String(VXLAN_MTU), 'up');
        lab.ip(h.ns, 'addr', 'add', `198.18.${i + 1}.1/16`, 'dev', 'vx0');
      });
      hosts.forEach((h, i) => {
        const j = 1 - i;
        const peer = hosts[j];
        lab.ip(h.ns, 'neigh', 'replace', `198.18.${j + 1}.1`, 'lladdr', macOf(j), 'dev', 'vx0', 'nud', 'permanent');
        lab.exec(h.ns, ['bridge', 'fdb', 'append', macOf(j), 'dev', 'vx0', 'dst', peer.underlay], { timeoutMs: 10_000 });
      });
      target = '198.18.2.1';
    } else if (spec.backend === 'host-gw') {
      // Each host holds its subnet's .1 on a bridge (where its containers would be); tulle routes the subnets.
      [a, b].forEach((h, i) => {
        lab.ip(h.ns, 'link', 'add', 'cbr0', 'type', 'bridge');
        lab.ip(h.ns, 'addr', 'add', `198.18.${i + 1}.1/24`, 'dev', 'cbr0');
        lab.ip(h.ns, 'link', 'set', 'cbr0', 'up');
      });
      const config = (own: Host, subnet: string, peer: Host, peerSubnet: string) => ({
        network: '198.18.0.0/16', subnet, underlay: { address: own.underlay }, backend: { type: 'host-gw' },
        peers: [{ subnet: peerSubnet, address: peer.underlay }],
      });
      daemons.push(trackDaemon(await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', b, '198.18.2.0/24'))));
      daemons.push(trackDaemon(await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', a, '198.18.1.0/24'))));
      target = '198.18.2.1';
    } else {
      const vx = spec.backend === 'vxlan';
      const config = (own: Host, subnet: string, ownMac: string, peer: Host, peerSubnet: string, peerMac: string) => ({
        network: '198.18.0.0/16', subnet, underlay: { address: own.underlay },
        backend: vx ? { type: 'vxlan', vni: 1, mac: ownMac } : { type: 'udp' },
        tun: { name: 'tulle0', mtu: vx ? VXLAN_MTU : TULLE_MTU },
        peers: [{ subnet: peerSubnet, address: peer.underlay, ...(vx ? { mac: peerMac } : {}) }],
        batch: spec.batch ?? 64, offloads: spec.offloads ?? ALL,
      });
      daemons.push(trackDaemon(await startDaemon(lab, a.ns, config(a, '198.18.1.0/24', macOf(0), b, '198.18.2.0/24', macOf(1)))));
      daemons.push(trackDaemon(await startDaemon(lab, b.ns, config(b, '198.18.2.0/24', macOf(1), a, '198.18.1.0/24', macOf(0)))));
      target = '198.18.2.0';
    }
    await waitForPath(lab, a.ns, target);

    const step = async (name: string, fn: () => Promise<string>) => {
      try {
        say(`${spec.system} (rep ${rep}/${reps}): ${name} … ${await fn()}`);
      } catch (error) {
        const message = `${name}: ${(error as Error).message}`;
        sample.errors.push(message);
        say(`${spec.system} (rep ${rep}/${reps}): FAILED ${message}`);
      }
      await sleep(500);
    };

    await step(`ping ${PINGS}× every ${PING_INTERVAL} s`, async () => {
      sample.rtt_ms = round(await pingRtt(lab, a.ns, target), 4);
      return `${sample.rtt_ms} ms average`;
    });
    await step(`TCP 1 stream, ${duration} s`, async () => {
      const pids = daemons.map((d) => d.process.pid!);
      const before = pids.map(cpuSeconds);
      const start = performance.now();
      const json = await iperf(lab, b, a, target, []);
      const wall = (performance.now() - start) / 1000;
      const after = pids.map(cpuSeconds);
      sample.tcp1_gbps = round(json.end!.sum_received!.bits_per_second / 1e9, 4);
      if (daemons.length > 0) {
        sample.cpu_pct_per_daemon = pids.map((_, i) => round(((after[i] - before[i]) / wall) * 100, 1));
        sample.cpu_pct = round(sample.cpu_pct_per_daemon.reduce((x, y) => x + y, 0), 1);
      }
      return `${sample.tcp1_gbps} Gb/s${sample.cpu_pct !== null ? `, daemons ${sample.cpu_pct}% of a core (${sample.cpu_pct_per_daemon!.join(' + ')})` : ''}`;
    });
    await step(`TCP 4 streams, ${duration} s`, async () => {
      const json = await iperf(lab, b, a, target, ['-P', '4']);
      sample.tcp4_gbps = round(json.end!.sum_received!.bits_per_second / 1e9, 4);
      return `${sample.tcp4_gbps} Gb/s`;
    });
    const overlayDev = spec.kind === 'underlay' ? a.dev : spec.kind === 'kernel-vxlan' ? 'vx0' : 'tulle0';
    // iperf3's UDP test hangs against an address on a port-less bridge in this lab (without tulle too),
    // and the kernel has no dummy devices: the host-gw row measures TCP and RTT only.
    if (spec.backend === 'host-gw') say(`${spec.system} (rep ${rep}/${reps}): UDP skipped (iperf3 UDP to a bridge address with no ports hangs here)`);
    else await step(`UDP ${UDP_PAYLOAD} B unpaced, ${duration} s`, async () => {
      const snmpBefore = udpSnmp(lab, b.ns);
      const devBefore = txDropped(lab, a.ns, overlayDev);
      const json = await iperf(lab, b, a, target, ['-u', '-b', '0', '-l', String(UDP_PAYLOAD)]);
      const snmpAfter = udpSnmp(lab, b.ns);
      const devAfter = txDropped(lab, a.ns, overlayDev);
      const delta = (name: string) => (snmpAfter[name] !== undefined && snmpBefore[name] !== undefined ? snmpAfter[name] - snmpBefore[name] : null);
      sample.udp_drops = {
        sender_dev: overlayDev,
        sender_dev_tx_dropped: devBefore !== null && devAfter !== null ? devAfter - devBefore : null,
        receiver_udp_rcvbuf_errors: delta('RcvbufErrors'),
        receiver_udp_in_errors: delta('InErrors'),
      };
      const rx = json.end!.sum_received!;
      const received = rx.bytes / UDP_PAYLOAD;
      sample.udp_kpps = round(received / rx.seconds / 1000, 2);
      const sentPackets = json.end!.sum_sent?.packets;
      sample.udp_loss_pct = rx.lost_percent !== undefined ? round(rx.lost_percent, 2)
        : sentPackets ? round(100 * (1 - received / sentPackets), 2) : null;
      const tx = json.end!.sum_sent;
      sample.udp_sender_kpps = tx?.packets !== undefined ? round(tx.packets / tx.seconds / 1000, 2) : null;
      const d = sample.udp_drops;
      return `${sample.udp_kpps} kpps received (sent ${sample.udp_sender_kpps} kpps, ${sample.udp_loss_pct}% lost; ` +
        `${d.sender_dev} tx dropped ${d.sender_dev_tx_dropped}, receiver UDP rcvbuf errors ${d.receiver_udp_rcvbuf_errors})`;
    });

    if (daemons.length > 0) {
      sample.daemon_log = daemons.map((d) => d.log().split('\n').find((l) => l.startsWith('tulle:'))?.trim() ?? '');
      await sleep(600); // the daemons write their counters twice a second
      sample.tulle_counters = {};
      for (const d of daemons) {
        try {
          const all = d.stats();
          // Only what is not zero, to keep the JSON readable.
          sample.tulle_counters[d.ns.slice(lab.prefix.length)] = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== 0));
        } catch (error) {
          sample.errors.push(`stats of ${d.ns}: ${(error as Error).message}`);
        }
      }
      for (const d of daemons) {
        if (d.process.exitCode !== null) sample.errors.push(`the daemon in ${d.ns} exited early (${d.process.exitCode}): ${d.log().slice(-300)}`);
      }
    }
  } catch (error) {
    const message = (error as Error).message;
    sample.errors.push(message);
    say(`${spec.system} (rep ${rep}/${reps}): FAILED ${message}`);
  } finally {
    for (const d of daemons) await Promise.race([d.stop().catch(() => null), sleep(5_000)]);
    lab.dispose();
    removeDaemonDirs();
    say(`${spec.system} (rep ${rep}/${reps}): torn down`);
  }
  return sample;
}

// ---------------------------------------------------------------- aggregation

interface Row {
  system: string;
  tcp1_gbps: number | null;
  tcp4_gbps: number | null;
  udp_kpps: number | null;
  rtt_ms: number | null;
  cpu_pct: number | null;
  udp_loss_pct: number | null;
  samples: number;
  spread: Partial<Record<Metric, [number, number]>>;
  /** tulle rows: batch size, and the offloads the daemons reported in force. */
  batch?: number;
  offloads?: string;
  ratios?: { vs_kernel_vxlan: Partial<Record<Metric, number | null>>; vs_underlay: Partial<Record<Metric, number | null>> };
}

function aggregate(samples: Sample[]): Row[] {
  const out: Row[] = rows.map((spec) => {
    const mine = samples.filter((s) => s.system === spec.system);
    const row: Row = {
      system: spec.system, tcp1_gbps: null, tcp4_gbps: null, udp_kpps: null, rtt_ms: null, cpu_pct: null, udp_loss_pct: null,
      samples: mine.length, spread: {},
    };
    if (spec.kind === 'tulle') {
      row.batch = spec.batch;
      const seen = [...new Set(mine.flatMap((s) => s.daemon_log ?? []).map((l) => /offloads: (.*)$/.exec(l)?.[1] ?? 'not reported'))];
      row.offloads = seen.length === 0 ? 'unknown' : seen.join(' | ');
    }
    for (const metric of METRICS) {
      const values = mine.map((s) => s[metric]).filter((v): v is number => v !== null);
      if (values.length === 0) continue;
      const digits = metric === 'rtt_ms' ? 4 : metric.endsWith('gbps') ? 4 : 2;
      row[metric] = round(median(values), digits);
      row.spread[metric] = [Math.min(...values), Math.max(...values)];
    }
    return row;
  });
  const ref = (system: string) => out.find((r) => r.system === system);
  const ratio = (x: number | null, y: number | null | undefined) => (x === null || y === null || y === undefined || y === 0 ? null : round(x / y, 3));
  for (const row of out) {
    if (!row.system.startsWith('tulle')) continue;
    const vx = ref('kernel-vxlan');
    const ul = ref('underlay');
    const pick = (base: Row | undefined) => Object.fromEntries((['tcp1_gbps', 'tcp4_gbps', 'udp_kpps', 'rtt_ms'] as const).map((m) => [m, ratio(row[m], base?.[m])]));
    row.ratios = { vs_kernel_vxlan: pick(vx), vs_underlay: pick(ul) };
  }
  return out;
}

// ---------------------------------------------------------------- output

function fmt(value: number | null, digits: number, spread?: [number, number]): string {
  if (value === null) return 'failed';
  const v = value.toFixed(digits);
  if (reps > 1 && spread) return `${v} (${spread[0].toFixed(digits)}–${spread[1].toFixed(digits)})`;
  return v;
}

function fmtRatio(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${x.toFixed(2)}×`;
}

function markdown(result: Row[], groSummary: string): string {
  const lines: string[] = [];
  const spreadNote = reps > 1 ? `median (min–max) of ${reps} reps` : '1 rep';
  lines.push(`| system | TCP ×1 Gb/s | TCP ×4 Gb/s | UDP ${UDP_PAYLOAD} B kpps | UDP loss % | RTT ms | CPU % of a core (TCP ×1) | TCP ×1 vs kernel-vxlan | TCP ×1 vs underlay |`);
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of result) {
    const s = r.spread;
    const udpSkipped = r.system === 'tulle-host-gw'; // see the UDP step: not measured, not failed
    lines.push(`| ${r.system} | ${fmt(r.tcp1_gbps, 2, s.tcp1_gbps)} | ${fmt(r.tcp4_gbps, 2, s.tcp4_gbps)} | ${udpSkipped ? 'not measured' : fmt(r.udp_kpps, 1, s.udp_kpps)} | ${udpSkipped ? 'not measured' : fmt(r.udp_loss_pct, 1, s.udp_loss_pct)} | ${fmt(r.rtt_ms, 3, s.rtt_ms)} | ${
      r.system.startsWith('tulle') ? fmt(r.cpu_pct, 0, s.cpu_pct) : 'n/a (kernel)'} | ${r.ratios ? fmtRatio(r.ratios.vs_kernel_vxlan.tcp1_gbps) : ''} | ${r.ratios ? fmtRatio(r.ratios.vs_underlay.tcp1_gbps) : ''} |`);
  }
  const tulle = result.filter((r) => r.ratios);
  if (tulle.length > 0) {
    lines.push('');
    lines.push('| tulle row | vs | TCP ×1 | TCP ×4 | UDP kpps | RTT (lower is better) |');
    lines.push('|---|---|--:|--:|--:|--:|');
    for (const r of tulle) {
      for (const [label, ratios] of [['kernel-vxlan', r.ratios!.vs_kernel_vxlan], ['underlay', r.ratios!.vs_underlay]] as const) {
        lines.push(`| ${r.system} | ${label} | ${fmtRatio(ratios.tcp1_gbps)} | ${fmtRatio(ratios.tcp4_gbps)} | ${fmtRatio(ratios.udp_kpps)} | ${fmtRatio(ratios.rtt_ms)} |`);
      }
    }
  }
  lines.push('');
  lines.push(`${spreadNote}; iperf3 ${duration} s per test; veth GRO ${groSummary}; CPU = utime+stime of both tulle daemons during TCP ×1, % of one core.`);
  for (const r of result.filter((x) => x.offloads !== undefined)) lines.push('', `${r.system}: batch ${r.batch}, offloads ${r.offloads}.`);
  return lines.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(max: number): number {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** A horizontal bar chart of TCP ×1 Gb/s per system, with value labels and (for reps > 1) min–max whiskers. */
function svgChart(result: Row[], subtitle: string): string {
  // The label column fits the longest system name (DejaVu Sans at 15 px: about 8.5 px a character).
  const left = Math.max(140, Math.ceil(Math.max(...result.map((r) => r.system.length)) * 8.5) + 24);
  const W = left + 660;
  const right = 150;
  const top = 78;
  const barH = 34;
  const gap = 18;
  const plotW = W - left - right;
  const H = top + result.length * (barH + gap) + 64;
  const max = Math.max(0.001, ...result.map((r) => Math.max(r.tcp1_gbps ?? 0, r.spread.tcp1_gbps?.[1] ?? 0)));
  const step = niceStep(max);
  const axisMax = Math.ceil(max / step) * step;
  const x = (v: number) => left + (v / axisMax) * plotW;
  const color = (system: string) => system === 'underlay' ? '#7a8593' : system === 'kernel-vxlan' ? '#2f6fdb' : system.includes(':') ? '#f2a65a' : '#e0631b';
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="24" y="32" font-size="20" font-weight="bold" fill="#1a1a1a">TCP throughput, 1 stream (Gb/s, higher is better)</text>`);
  out.push(`<text x="24" y="55" font-size="13" fill="#555555">${esc(subtitle)}</text>`);
  const plotBottom = top + result.length * (barH + gap) - gap + 8;
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    const gx = x(v);
    out.push(`<line x1="${gx.toFixed(1)}" y1="${top - 8}" x2="${gx.toFixed(1)}" y2="${plotBottom}" stroke="${v === 0 ? '#333333' : '#e2e2e2'}" stroke-width="1"/>`);
    out.push(`<text x="${gx.toFixed(1)}" y="${plotBottom + 20}" font-size="13" fill="#444444" text-anchor="middle">${Number(v.toFixed(3))}</text>`);
  }
  out.push(`<text x="${left + plotW / 2}" y="${plotBottom + 42}" font-size="13" fill="#444444" text-anchor="middle">Gb/s</text>`);
  result.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const cy = y + barH / 2;
    out.push(`<text x="${left - 12}" y="${cy + 5}" font-size="15" fill="#1a1a1a" text-anchor="end">${esc(r.system)}</text>`);
    if (r.tcp1_gbps === null) {
      out.push(`<text x="${left + 8}" y="${cy + 5}" font-size="14" fill="#b00020">failed</text>`);
      return;
    }
    const w = Math.max(1.5, x(r.tcp1_gbps) - left);
    out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color(r.system)}" rx="2"/>`);
    let labelX = left + w + 8;
    const sp = r.spread.tcp1_gbps;
    if (reps > 1 && sp) {
      const x1 = x(sp[0]);
      const x2 = x(sp[1]);
      out.push(`<line x1="${x1.toFixed(1)}" y1="${cy}" x2="${x2.toFixed(1)}" y2="${cy}" stroke="#222222" stroke-width="1.5"/>`);
      for (const xx of [x1, x2]) out.push(`<line x1="${xx.toFixed(1)}" y1="${cy - 7}" x2="${xx.toFixed(1)}" y2="${cy + 7}" stroke="#222222" stroke-width="1.5"/>`);
      labelX = Math.max(labelX, x2 + 8);
    }
    const ratio = r.ratios?.vs_kernel_vxlan.tcp1_gbps;
    const label = `${r.tcp1_gbps.toFixed(2)} Gb/s${ratio !== null && ratio !== undefined ? ` · ${ratio.toFixed(2)}× kernel-vxlan` : ''}`;
    const labelW = label.length * 9; // DejaVu Sans Bold at 15 px: about 9 px a character
    if (labelX + labelW > W - 8 && labelW + 16 < w) {
      // No room to the right: inside the bar's end, in white.
      out.push(`<text x="${(left + w - 8).toFixed(1)}" y="${cy + 5}" font-size="15" font-weight="bold" fill="#ffffff" text-anchor="end">${esc(label)}</text>`);
    } else {
      out.push(`<text x="${labelX.toFixed(1)}" y="${cy + 5}" font-size="15" font-weight="bold" fill="#1a1a1a">${esc(label)}</text>`);
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const runTag = Math.random().toString(16).slice(2, 8);
  const cpus = os.cpus();
  const iperfVersion = spawnSync('iperf3', ['--version'], { encoding: 'utf8', timeout: 5_000 }).stdout?.split('\n')[0]?.trim() ?? 'unknown';
  const machine = {
    cpu: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, kernel: os.release(), node: process.version,
    iperf3: iperfVersion, ethtool: ethtool !== undefined, clk_tck: CLK_TCK,
  };
  say(`machine: ${machine.cpu}, ${machine.cores} cores, Linux ${machine.kernel}, node ${machine.node}, ${iperfVersion}`);
  say(`rows: ${rows.map((r) => r.system).join(', ')}; ${reps} rep(s) round-robin; ${duration} s per iperf3 test; out: ${outDir}`);
  if (!ethtool) say('ethtool is not installed: veth GRO stays at its default (reported as unknown)');

  const startBuild = buildFingerprint();
  const srcNewest = Math.max(newest(join(root, 'src'), ['.ts']), newest(join(root, 'native', 'src'), ['.cc', '.h']));
  const distNewest = Math.max(newest(join(root, 'dist', 'src'), ['.js']), newest(join(root, 'native', 'build', 'Release'), ['.node']));
  const staleNote = srcNewest > distNewest
    ? `src/ or native/src/ is newer than the build (${new Date(srcNewest).toISOString()} > ${new Date(distNewest).toISOString()}): the run measures the last build, not the current sources`
    : undefined;
  say(`build ${startBuild}${staleNote ? `; WARNING ${staleNote}` : ''}`);
  const samples: Sample[] = [];
  let index = 0;
  for (let rep = 1; rep <= reps; rep++) {
    for (const spec of rows) samples.push(await measureRow(spec, rep, runTag, index++));
  }

  const result = aggregate(samples);
  const groStates = new Set(samples.flatMap((s) => Object.values(s.gro)));
  const groSummary = groStates.size === 1 ? [...groStates][0] : groStates.size === 0 ? 'unknown' : `mixed (${[...groStates].join(', ')})`;
  const errors = samples.flatMap((s) => s.errors.map((e) => `${s.system} rep ${s.rep}: ${e}`));
  const warnings = samples.flatMap((s) => s.warnings.map((e) => `${s.system} rep ${s.rep}: ${e}`));
  const builds = [...new Set([startBuild, ...samples.map((s) => s.build), buildFingerprint()])];
  if (builds.length > 1) warnings.push(`dist/ or the native addon changed during the run (builds ${builds.join(' → ')}): rows may have measured different code; see samples[].build`);
  if (staleNote) warnings.push(staleNote);
  const command = [process.execPath === process.argv[0] ? 'node' : process.argv[0], ...process.argv.slice(1).map((a) => a.startsWith(root + '/') ? a.slice(root.length + 1) : a)].join(' ');
  const json = {
    rows: result,
    units: { tcp1_gbps: 'Gb/s, receiver', tcp4_gbps: 'Gb/s, receiver, 4 streams', udp_kpps: `thousand ${UDP_PAYLOAD}-byte datagrams/s received`, udp_loss_pct: '%', rtt_ms: `ms, average of ${PINGS} pings ${PING_INTERVAL} s apart`, cpu_pct: 'utime+stime of both tulle daemons during TCP ×1, % of one core; null for kernel rows' },
    settings: { duration_s: duration, reps, rows: rows.map((r) => r.system), udp_payload: UDP_PAYLOAD, vxlan_mtu: VXLAN_MTU, tulle_mtu: TULLE_MTU, topology: '2 hosts on a Linux bridge (switchedHosts), underlay 192.0.2.0/24' },
    gro: groSummary,
    build: builds.length === 1 ? builds[0] : builds,
    machine,
    date: new Date().toISOString(),
    command,
    samples,
    errors,
    warnings,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  const table = markdown(result, groSummary);
  const md = `# Overlay benchmark\n\n${json.date} · ${machine.cpu}, ${machine.cores} cores · Linux ${machine.kernel} · node ${machine.node} · ${iperfVersion}\n\n\`${command}\`\n\n${table}\n${
    errors.length ? `\nErrors:\n\n${errors.map((e) => `- ${e}`).join('\n')}\n` : ''}${
    warnings.length ? `\nWarnings:\n\n${warnings.map((e) => `- ${e}`).join('\n')}\n` : ''}\n![TCP ×1 throughput](results.svg)\n`;
  writeFileSync(join(outDir, 'results.md'), md);
  const subtitle = `${reps > 1 ? `median of ${reps} reps, whiskers min–max` : '1 rep'} · iperf3 ${duration} s · veth GRO ${groSummary} · ${machine.cores} cores · Linux ${machine.kernel}`;
  writeFileSync(join(outDir, 'results.svg'), svgChart(result, subtitle));
  const rsvg = onPath('rsvg-convert');
  if (rsvg) {
    const r = spawnSync(rsvg, ['-o', join(outDir, 'results.png'), join(outDir, 'results.svg')], { timeout: 30_000, encoding: 'utf8' });
    if (r.status === 0) say(`wrote ${join(outDir, 'results.png')}`);
    else say(`rsvg-convert failed: ${r.stderr?.trim() ?? r.error?.message}`);
  }
  say(`wrote ${join(outDir, 'results.json')}, results.md, results.svg`);
  for (const e of errors) say(`error: ${e}`);
  for (const w of warnings) say(`warning: ${w}`);
  process.stdout.write(table + '\n');
  return errors.length > 0 ? 1 : 0;
}

main().then((code) => {
  process.exitCode = code;
}, (error: unknown) => {
  process.stderr.write(`overlay bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
