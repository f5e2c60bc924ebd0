/**
 * Checks against this host, run before anything on it changes: the
 * privileges and /dev/net/tun, the underlay address, ports already in use,
 * files that must be readable, another daemon on the same state dir, the
 * overlay overlapping a network the host already has. They look, never
 * touch: a port is probed by binding and closing at once.
 *
 * Like the cross-field checks, each reads only fields that are valid on
 * their own, so their problems join the others in one report.
 */
import { execFileSync } from 'node:child_process';
import { constants, accessSync, closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import * as wire from '@tulle/wire';
import { containsCidr, formatCidr4, overlaps4, parseCidr4, prefixOf } from '../../util/cidr.js';
import { gossipSeed, seedsOnlySelf } from '../../gossip/seeds.js';
import { formatHostPort } from '../../gossip/udp-transport.js';
import { probeControl } from '../control-client.js';
import { DEFAULT_STATE_DIR, defaultStateDir, socketPath } from '../state-dir.js';
import { defaultPort } from '../ports.js';
import { valueAt, type Path, type Problem } from './problems.js';
import { address, cidr4, hostPort, hostPortOrOff, parseHostPort, port } from './schema.js';
import { decodeSharedKey } from './shared-key.js';
import { etcdCredentialSources } from './checks.js';
import { pairingProblems, readCredentials } from '../../etcd/tls-files.js';
import { hasNetAdmin } from '../../util/privileges.js';

/** What the checks learnt about the host, for the daemon to use. */
export interface HostFacts {
  /**
   * `address6`: the device's global IPv6 address (the address itself when it is IPv6), which a dual-stack
   * network's lease announces as PublicIPv6, as flannel takes it from its interface.
   */
  underlay: { address: string; device: string; deviceMtu: number; address6?: string };
  stateDir: string;
  /**
   * True when stateDir is the default of a network namespace other than the
   * host's: the namespace's identity does not outlive it, so neither should
   * its state (removed on a clean stop).
   */
  namespaceStateDir: boolean;
}

interface AddrInfo {
  ifname: string;
  mtu: number;
  addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[];
}

function valid<T>(input: unknown, path: Path, schema: z.ZodType<T>): T | undefined {
  const result = schema.safeParse(valueAt(input, path));
  return result.success ? result.data : undefined;
}

function links(): AddrInfo[] {
  return JSON.parse(execFileSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8' })) as AddrInfo[];
}

export async function hostChecks(input: unknown): Promise<{ problems: Problem[]; facts?: HostFacts }> {
  const problems: Problem[] = [];
  const backendType = valueAt(input, ['backend', 'type']);
  const storeType = valueAt(input, ['store', 'type']) ?? 'static';

  // Privileges first: without them nothing below would work anyway.
  if (!hasNetAdmin()) {
    problems.push({ path: [], message: 'tulle needs CAP_NET_ADMIN to set up devices and routes: run it as root' });
  }
  if (backendType !== 'host-gw') {
    try {
      closeSync(openSync('/dev/net/tun', constants.O_RDWR));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push({
        path: ['tun'],
        message:
          code === 'ENOENT'
            ? '/dev/net/tun does not exist: the kernel needs TUN support (CONFIG_TUN), and a container needs the device passed in'
            : `no permission to open /dev/net/tun (${code}): run tulle as root, or give it access to the device and CAP_NET_ADMIN`,
      });
    }
    const tunName = valueAt(input, ['tun', 'name']) ?? 'tulle0';
    if (typeof tunName === 'string' && existsSync(`/sys/class/net/${tunName}`)) {
      problems.push({
        path: ['tun', 'name'],
        message: `a device named ${tunName} already exists: another tulle may be running; pick another name or remove it (ip link del ${tunName})`,
        value: tunName,
      });
    }
  }

  const all = links();
  const underlay = resolveUnderlay(input, all, problems);

  // Ports: the backend's, the gossip store's, the metrics address.
  if (underlay !== undefined && backendType !== 'host-gw' && (backendType === 'udp' || backendType === 'vxlan')) {
    const own = valid(input, ['underlay', 'port'], port);
    const network = valid(input, ['backend', 'port'], port);
    const listen = own ?? network ?? defaultPort(backendType);
    const path: Path = own !== undefined ? ['underlay', 'port'] : network !== undefined ? ['backend', 'port'] : ['underlay', 'port'];
    const busy = await udpPortBusy(underlay.address, listen);
    if (busy)
      problems.push({
        path,
        message: `UDP port ${listen} on ${underlay.address} is in use by another program${own === undefined && network === undefined ? ` (${listen} is the ${backendType} default)` : ''}; free it or choose another port`,
        value: own ?? network,
      });
  }
  if (storeType === 'gossip' && underlay !== undefined) {
    const gossipPort = valid(input, ['store', 'port'], port) ?? 7946;
    if (await udpPortBusy(underlay.address, gossipPort))
      problems.push({ path: ['store', 'port'], message: `UDP port ${gossipPort} on ${underlay.address} is in use by another program`, value: gossipPort });
    const peers = valueAt(input, ['store', 'peers']);
    if (Array.isArray(peers) && peers.every((p) => typeof p === 'string')) {
      const selfOnly = seedsOnlySelf(
        peers.map((p) => gossipSeed(p, gossipPort)),
        formatHostPort(underlay.address, gossipPort),
      );
      if (selfOnly !== undefined) problems.push({ path: ['store', 'peers'], message: selfOnly });
    }
  }
  const metrics = valid(input, ['metricsAddress'], hostPort);
  if (metrics !== undefined) {
    const { host, port: tcpPort } = parseHostPort(metrics)!;
    const problem = await tcpPortProblem(host, tcpPort);
    if (problem !== undefined) problems.push({ path: ['metricsAddress'], message: problem, value: metrics });
  }
  // An address set here must be free; the default is best effort (health-server.ts).
  const health = valid(input, ['healthAddress'], hostPortOrOff);
  if (health !== undefined && health !== 'off' && health !== metrics) {
    const { host, port: tcpPort } = parseHostPort(health)!;
    const problem = await tcpPortProblem(host, tcpPort);
    if (problem !== undefined) problems.push({ path: ['healthAddress'], message: problem, value: health });
  }

  // Files the daemon will read or write.
  const keyFile = valueAt(input, ['store', 'keyFile']);
  if (storeType === 'gossip' && typeof keyFile === 'string') {
    try {
      // One key per line makes a keyring (the first signs): every line must be a key.
      const lines = readFileSync(keyFile, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);
      if (lines.length === 0) problems.push({ path: ['store', 'keyFile'], message: 'holds no key: give one key per line (hex or base64)', value: keyFile });
      for (const [i, line] of lines.entries()) {
        const decoded = decodeSharedKey(line);
        const which = lines.length === 1 ? 'the key' : `key ${i + 1} of ${lines.length}`;
        if (typeof decoded === 'string') problems.push({ path: ['store', 'keyFile'], message: `holds no usable key: ${which} ${decoded}`, value: keyFile });
      }
    } catch (error) {
      problems.push({
        path: ['store', 'keyFile'],
        message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        value: keyFile,
      });
    }
  }
  // The etcd client's CA, certificate, key and password file: readable and what they claim to be.
  if (storeType === 'etcd') {
    const sources = etcdCredentialSources(input);
    const pairing = new Set(pairingProblems(sources).map((p) => p.message));
    for (const p of readCredentials(sources).problems)
      if (!pairing.has(p.message)) problems.push({ path: ['store', ...p.path], message: p.message, value: p.value });
  }
  const stateDirGiven = valueAt(input, ['stateDir']);
  const stateDir = typeof stateDirGiven === 'string' && stateDirGiven !== '' ? stateDirGiven : defaultStateDir();
  for (const [path, file] of [
    [['stateDir'], `${stateDir}/x`],
    [['subnetFile'], valueAt(input, ['subnetFile'])],
    [['dockerOptsFile'], valueAt(input, ['dockerOptsFile'])],
  ] as const) {
    if (typeof file !== 'string' || file === '') continue;
    const problem = unwritable(dirname(file));
    if (problem !== undefined) problems.push({ path, message: problem, value: path[0] === 'stateDir' ? stateDir : file });
  }
  if (await probeControl(socketPath(stateDir))) {
    problems.push({
      path: ['stateDir'],
      message: `another tulle is running with this state dir (it answers on ${socketPath(stateDir)}): stop it first, or give this one another stateDir`,
      value: stateDir,
    });
  }

  if (valueAt(input, ['ipMasq']) === true && !commandWorks(['nft', '--version'])) {
    problems.push({ path: ['ipMasq'], message: 'needs the nft command (Debian package nftables)', value: true });
  }

  // The overlay must not overlap a network this host is already on (other than inside the overlay itself, like a container bridge).
  const networkText = valid(input, ['network'], cidr4);
  if (networkText !== undefined) {
    const network = parseCidr4(networkText);
    for (const link of all) {
      if (link.ifname === 'lo') continue;
      for (const a of link.addr_info ?? []) {
        if (a.family !== 'inet' || a.local === undefined || a.prefixlen === undefined) continue;
        const onLink = prefixOf(wire.parseIPv4(a.local), a.prefixlen);
        if (overlaps4(network, onLink) && !containsCidr(network, onLink)) {
          problems.push({
            path: ['network'],
            message: `overlaps ${formatCidr4(onLink)}, the network of ${a.local} on ${link.ifname}: choose an overlay network this host is not on`,
            value: networkText,
          });
        }
      }
    }
  }
  if (problems.length > 0 || underlay === undefined) return { problems };
  return { problems, facts: { underlay, stateDir, namespaceStateDir: stateDir !== stateDirGiven && stateDir !== DEFAULT_STATE_DIR } };
}

/** The underlay address and its device: as given, from `underlay.interface`, or from the default route. */
function resolveUnderlay(input: unknown, all: AddrInfo[], problems: Problem[]): HostFacts['underlay'] | undefined {
  const given = valid(input, ['underlay', 'address'], address);
  const iface = valueAt(input, ['underlay', 'interface']);
  if (valueAt(input, ['underlay', 'address']) !== undefined && given === undefined) return undefined; // already reported
  if (given !== undefined) {
    const bytes = wire.formatIP(wire.parseIP(given));
    const link = all.find((l) => l.addr_info?.some((a) => a.local !== undefined && wire.formatIP(wire.parseIP(a.local)) === bytes));
    if (link === undefined) {
      const mine = all.flatMap((l) => (l.addr_info ?? []).filter((a) => a.local !== undefined && l.ifname !== 'lo').map((a) => a.local!));
      problems.push({ path: ['underlay', 'address'], message: `is not an address of this host; its addresses: ${mine.join(', ') || 'none'}`, value: given });
      return undefined;
    }
    if (typeof iface === 'string' && iface !== link.ifname)
      problems.push({ path: ['underlay', 'interface'], message: `does not hold underlay.address ${given} (${link.ifname} does)`, value: iface });
    return { address: given, device: link.ifname, deviceMtu: link.mtu, ...globalIpv6(link, given) };
  }
  let device = typeof iface === 'string' ? iface : undefined;
  if (device === undefined) {
    const routes = JSON.parse(execFileSync('ip', ['-j', 'route', 'show', 'default'], { encoding: 'utf8' })) as { dev?: string }[];
    device = routes[0]?.dev;
    if (device === undefined) {
      problems.push({
        path: ['underlay'],
        message: 'names no address and this host has no default route to take one from: set underlay.address or underlay.interface',
      });
      return undefined;
    }
  }
  const link = all.find((l) => l.ifname === device);
  const v4 = link?.addr_info?.find((a) => a.family === 'inet' && a.local !== undefined);
  if (link === undefined || v4 === undefined) {
    problems.push({
      path: typeof iface === 'string' ? ['underlay', 'interface'] : ['underlay'],
      message:
        link === undefined
          ? `there is no device ${device} on this host; devices: ${all.map((l) => l.ifname).join(', ')}`
          : `${device} has no IPv4 address to use as the underlay address`,
      value: device,
    });
    return undefined;
  }
  return { address: v4.local!, device: link.ifname, deviceMtu: link.mtu, ...globalIpv6(link, v4.local!) };
}

/** The underlay's IPv6 address: `address` itself when IPv6, else the device's first global one. */
function globalIpv6(link: AddrInfo, address: string): { address6?: string } {
  if (address.includes(':')) return { address6: address };
  const v6 = link.addr_info?.find((a) => a.family === 'inet6' && a.scope === 'global' && a.local !== undefined);
  return v6 !== undefined ? { address6: v6.local! } : {};
}

export async function udpPortBusy(host: string, udpPort: number): Promise<boolean> {
  const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
  return new Promise((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.close();
      resolve(error.code === 'EADDRINUSE');
    });
    socket.bind({ address: host, port: udpPort, exclusive: true }, () => socket.close(() => resolve(false)));
  });
}

async function tcpPortProblem(host: string, tcpPort: number): Promise<string | undefined> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'EADDRINUSE'
          ? `TCP port ${tcpPort} on ${host} is in use by another program`
          : error.code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this host`
            : `cannot listen there: ${error.code ?? error.message}`,
      ),
    );
    server.listen({ host, port: tcpPort, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Why files cannot be written under `dir` (the nearest existing ancestor must be a writable directory), or undefined. */
function unwritable(dir: string): string | undefined {
  let at = dir;
  while (!existsSync(at)) {
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  try {
    if (!statSync(at).isDirectory()) return `${at} is not a directory`;
    accessSync(at, constants.W_OK);
    return undefined;
  } catch (error) {
    return `${at} is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

function commandWorks(command: string[]): boolean {
  try {
    execFileSync(command[0], command.slice(1), { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
