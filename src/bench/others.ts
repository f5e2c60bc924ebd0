/**
 * Other userspace overlays, measured in the same lab as tulle when they are
 * installed: socat (TUN over UDP, point to point), wireguard-go, nebula and
 * tinc 1.0 (crypto off: Cipher/Digest none). Each gets host i the overlay
 * address 198.18.<i+1>.1/16 and an MTU of 1440 or more, which fits the
 * 1500-byte underlay (wireguard-go and nebula add 60 bytes over IPv4, tinc
 * 1.0 46) and carries the bench's 1400-byte UDP payloads unfragmented.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, type Lab } from '../lab/netns.js';
import type { Host } from '../lab/topology.js';
import type { Availability } from './systems.js';
import { installHint, onPath } from './tools.js';

export interface OverlayProcess {
  name: string;
  ns: string;
  child: ChildProcess;
}

export interface StartedOverlay {
  /** Overlay address per host (null for hosts it does not cover). */
  addresses: (string | null)[];
  /** The overlay device on host 0. */
  dev: string;
  mtu: number;
  processes: OverlayProcess[];
  notes: string[];
}

interface OtherOverlay {
  tools: string[];
  start(lab: Lab, hosts: Host[], dir: string): Promise<StartedOverlay>;
}

const addressOf = (i: number) => `198.18.${i + 1}.1`;
const nameOf = (lab: Lab, h: Host) =>
  h.ns
    .slice(lab.prefix.length)
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 6);

function startProcess(lab: Lab, ns: string, name: string, command: string[], env?: NodeJS.ProcessEnv): OverlayProcess {
  const child = lab.spawn(ns, command, env ? { env: { ...process.env, ...env } } : {});
  let log = '';
  child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-2000)));
  child.stdout?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-2000)));
  (child as ChildProcess & { tail?: () => string }).tail = () => log;
  return { name, ns, child };
}

/** Waits (bounded) until `dev` exists in `ns`, or a process died. */
async function waitForDevice(lab: Lab, ns: string, dev: string, processes: OverlayProcess[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (run(['ip', '-n', ns, '-o', 'link', 'show'], { allowFailure: true }).includes(` ${dev}:`)) return;
    const dead = processes.find((p) => p.child.exitCode !== null);
    if (dead)
      throw new Error(`${dead.name} in ${dead.ns} exited (${dead.child.exitCode}): ${(dead.child as ChildProcess & { tail?: () => string }).tail?.() ?? ''}`);
    await sleep(100);
  }
  throw new Error(`${dev} did not appear in ${ns} within 10 s`);
}

const OVERLAYS: Record<string, OtherOverlay> = {
  socat: {
    tools: ['socat'],
    async start(lab, hosts) {
      // TUN ↔ UDP-DATAGRAM is one peer to one peer: hosts 1 and 2 only.
      const [a, b] = hosts;
      const mtu = 1472;
      const processes = [a, b].map((h, i) => {
        const peer = i === 0 ? b : a;
        return startProcess(lab, h.ns, 'socat', [
          'socat',
          `TUN:${addressOf(i)}/16,tun-name=stun0,iff-up`,
          `UDP-DATAGRAM:${peer.underlay}:9000,bind=${h.underlay}:9000`,
        ]);
      });
      for (const h of [a, b]) {
        await waitForDevice(lab, h.ns, 'stun0', processes);
        lab.ip(h.ns, 'link', 'set', 'stun0', 'mtu', String(mtu));
      }
      return {
        addresses: hosts.map((_, i) => (i < 2 ? addressOf(i) : null)),
        dev: 'stun0',
        mtu,
        processes,
        notes: hosts.length > 2 ? ['socat is point to point: it covers hosts 1 and 2 only'] : [],
      };
    },
  },
  'wireguard-go': {
    tools: ['wireguard-go', 'wg'],
    async start(lab, hosts, dir) {
      const mtu = 1440; // 1500 - 20 (IPv4) - 8 (UDP) - 32 (WireGuard header and tag)
      // wireguard-go's control sockets live in /var/run/wireguard/<dev>.sock, shared by all
      // namespaces: each host's device needs a name of its own.
      const devs = hosts.map((h) => `wg${nameOf(lab, h)}`.slice(0, 15));
      lab.onDispose(() => devs.forEach((d) => rmSync(`/var/run/wireguard/${d}.sock`, { force: true })));
      const keys = hosts.map((_, i) => {
        const priv = run(['wg', 'genkey']).trim();
        const file = join(dir, `wg${i}.key`);
        writeFileSync(file, priv + '\n', { mode: 0o600 });
        return { file, pub: run(['wg', 'pubkey'], { input: priv + '\n' }).trim() };
      });
      const env = { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' };
      const processes = hosts.map((h, i) => startProcess(lab, h.ns, 'wireguard-go', ['wireguard-go', '-f', devs[i]], env));
      for (const [i, h] of hosts.entries()) {
        await waitForDevice(lab, h.ns, devs[i], processes);
        for (let tries = 0; ; tries++) {
          // The control socket appears a moment after the device.
          if (existsSync(`/var/run/wireguard/${devs[i]}.sock`)) break;
          if (tries > 50) throw new Error(`wireguard-go in ${h.ns}: no control socket`);
          await sleep(100);
        }
        const peers = hosts.flatMap((p, j) => (j === i ? [] : ['peer', keys[j].pub, 'allowed-ips', `198.18.${j + 1}.0/24`, 'endpoint', `${p.underlay}:51820`]));
        lab.exec(h.ns, ['wg', 'set', devs[i], 'private-key', keys[i].file, 'listen-port', '51820', ...peers]);
        lab.ip(h.ns, 'addr', 'add', `${addressOf(i)}/16`, 'dev', devs[i]);
        lab.ip(h.ns, 'link', 'set', devs[i], 'mtu', String(mtu), 'up');
      }
      return {
        addresses: hosts.map((_, i) => addressOf(i)),
        dev: devs[0],
        mtu,
        processes,
        notes: ['wireguard-go encrypts (ChaCha20-Poly1305); it has no mode without crypto'],
      };
    },
  },
  nebula: {
    tools: ['nebula', 'nebula-cert'],
    async start(lab, hosts, dir) {
      const mtu = 1440; // 1500 - 28 (IPv4, UDP) - 16 (nebula header) - 16 (AEAD tag)
      run(['nebula-cert', 'ca', '-name', 'tulle-bench', '-duration', '24h', '-out-crt', join(dir, 'ca.crt'), '-out-key', join(dir, 'ca.key')]);
      const devs = hosts.map((h) => `neb${nameOf(lab, h)}`.slice(0, 15));
      const processes: OverlayProcess[] = [];
      for (const [i, h] of hosts.entries()) {
        const n = `h${i}`;
        run([
          'nebula-cert',
          'sign',
          '-name',
          n,
          '-ip',
          `${addressOf(i)}/16`,
          '-ca-crt',
          join(dir, 'ca.crt'),
          '-ca-key',
          join(dir, 'ca.key'),
          '-out-crt',
          join(dir, `${n}.crt`),
          '-out-key',
          join(dir, `${n}.key`),
        ]);
        const staticMap = Object.fromEntries(hosts.flatMap((p, j) => (j === i ? [] : [[addressOf(j), [`${p.underlay}:4242`]]])));
        // JSON is YAML: no YAML writer needed.
        const config = {
          pki: { ca: join(dir, 'ca.crt'), cert: join(dir, `${n}.crt`), key: join(dir, `${n}.key`) },
          static_host_map: staticMap,
          lighthouse: { am_lighthouse: false, interval: 60, hosts: [] },
          listen: { host: h.underlay, port: 4242 },
          punchy: { punch: false },
          tun: { dev: devs[i], mtu },
          logging: { level: 'error' },
          firewall: { outbound: [{ port: 'any', proto: 'any', host: 'any' }], inbound: [{ port: 'any', proto: 'any', host: 'any' }] },
        };
        writeFileSync(join(dir, `${n}.yml`), JSON.stringify(config));
        processes.push(startProcess(lab, h.ns, 'nebula', ['nebula', '-config', join(dir, `${n}.yml`)]));
      }
      for (const [i, h] of hosts.entries()) await waitForDevice(lab, h.ns, devs[i], processes);
      return {
        addresses: hosts.map((_, i) => addressOf(i)),
        dev: devs[0],
        mtu,
        processes,
        notes: ['nebula encrypts (AES-GCM); it has no mode without crypto'],
      };
    },
  },
  tinc: {
    tools: ['tincd'],
    async start(lab, hosts, dir) {
      const mtu = 1440; // under 1500 - 28 (IPv4, UDP) - 4 (sequence number) - 14 (the Ethernet header tinc 1.0 carries in router mode)
      const names = hosts.map((_, i) => `h${i}`);
      const devs = hosts.map((h) => `tinc${nameOf(lab, h)}`.slice(0, 15));
      for (const [i, h] of hosts.entries()) {
        const d = join(dir, names[i]);
        mkdirSync(join(d, 'hosts'), { recursive: true });
        writeFileSync(
          join(d, 'tinc.conf'),
          [
            `Name = ${names[i]}`,
            `Interface = ${devs[i]}`,
            'DeviceType = tun',
            'Mode = router',
            'AddressFamily = ipv4',
            `BindToAddress = ${h.underlay}`,
            ...names.filter((_, j) => j !== i).map((p) => `ConnectTo = ${p}`),
          ].join('\n') + '\n',
        );
        // Cipher and Digest none: tinc without crypto, the closest to what tulle does.
        writeFileSync(
          join(d, 'hosts', names[i]),
          [`Address = ${h.underlay}`, `Subnet = 198.18.${i + 1}.0/24`, 'Cipher = none', 'Digest = none'].join('\n') + '\n',
        );
        writeFileSync(join(d, 'tinc-up'), `#!/bin/sh\nip addr add ${addressOf(i)}/16 dev "$INTERFACE"\nip link set "$INTERFACE" mtu ${mtu} up\n`);
        chmodSync(join(d, 'tinc-up'), 0o755);
        run(['tincd', '-c', d, '-K', '2048'], { input: '', timeoutMs: 60_000 });
      }
      for (const [i] of hosts.entries()) {
        for (const [j] of hosts.entries()) {
          if (i !== j) writeFileSync(join(dir, names[j], 'hosts', names[i]), readFileSync(join(dir, names[i], 'hosts', names[i])));
        }
      }
      const processes = hosts.map((h, i) =>
        startProcess(lab, h.ns, 'tincd', ['tincd', '-c', join(dir, names[i]), '-D', '-d0', `--pidfile=${join(dir, names[i], 'pid')}`]),
      );
      for (const [i, h] of hosts.entries()) await waitForDevice(lab, h.ns, devs[i], processes);
      return { addresses: hosts.map((_, i) => addressOf(i)), dev: devs[0], mtu, processes, notes: ['tinc 1.0 with Cipher = none and Digest = none'] };
    },
  },
};

/** Whether overlay `id` can run here: its tools are on the PATH. */
export const otherAvailable: Availability = (id) => {
  const overlay = OVERLAYS[id];
  if (overlay === undefined) return { ok: false, reason: 'unknown overlay' };
  const missing = overlay.tools.filter((t) => onPath(t) === undefined);
  if (missing.length > 0)
    return { ok: false, reason: `not installed (${missing.join(', ')} missing; Debian: ${[...new Set(missing.map(installHint))].join('; ')})` };
  return { ok: true };
};

/** Starts overlay `id` on `hosts`; its files live in a temp folder the lab removes. */
export async function startOther(lab: Lab, id: string, hosts: Host[]): Promise<StartedOverlay> {
  const dir = mkdtempSync(join(tmpdir(), `tulle-bench-${id}-`));
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  return OVERLAYS[id].start(lab, hosts, dir);
}
