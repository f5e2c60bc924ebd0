/**
 * The static configuration the engine runs on until leases come from gossip
 * or etcd: own subnet and underlay, the backend, and a fixed list of peers.
 * Validated once, here; every error names the field, the value and what is allowed.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import * as wire from '../wire/index.js';
import { contains, parseCidr } from '../engine/cidr.js';
import { parseCidr4 } from '../engine/routes.js';

const cidr4 = z.string().superRefine((value, ctx) => {
  try {
    parseCidr4(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});
const cidr6 = z.string().superRefine((value, ctx) => {
  try {
    if (parseCidr(value).family !== 6) ctx.addIssue({ code: 'custom', message: `"${value}" is not an IPv6 prefix like 2001:db8:18:1::/64` });
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});
const address = z.string().refine((v) => wire.isIPv4(v) || wire.isIPv6(v), { message: 'not an IPv4 or IPv6 address' });
const port = z.number().int().min(1).max(65535);
const mac = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'a MAC address like 02:00:5e:00:53:01');

export const StaticConfig = z.object({
  network: cidr4,
  subnet: cidr4,
  /** A dual-stack overlay: the IPv6 network and this host's IPv6 subnet in it (both or neither). */
  ipv6Network: cidr6.optional(),
  ipv6Subnet: cidr6.optional(),
  underlay: z.object({ address, port: port.optional() }),
  backend: z.discriminatedUnion('type', [
    z.object({ type: z.literal('udp') }),
    z.object({ type: z.literal('vxlan'), vni: z.number().int().min(0).max(wire.vxlan.MAX_VNI).default(1), mac }),
    z.object({ type: z.literal('host-gw') }),
  ]),
  /** `mtu` defaults to the underlay device's MTU less the backend's overhead (see overlayMtu). */
  tun: z.object({ name: z.string().min(1).max(15).default('tulle0'), mtu: z.number().int().min(68).max(65535).optional() }).default({ name: 'tulle0' }),
  peers: z.array(z.object({ subnet: cidr4, ipv6Subnet: cidr6.optional(), address, port: port.optional(), mac: mac.optional() })).default([]),
  batch: z.number().int().min(1).max(256).default(64),
  /** The RX thread sends the replies its TUN writes provoke: one thread wake-up less per round trip. */
  replyInline: z.boolean().default(true),
  /** Each offload is used when the kernel has it, unless turned off here. */
  offloads: z.object({ tun: z.boolean().default(true), udpGso: z.boolean().default(true), udpGro: z.boolean().default(true) })
    .default({ tun: true, udpGso: true, udpGro: true }),
}).superRefine((c, ctx) => {
  const net = parseCidr4(c.network);
  const inside = (s: string) => {
    const sub = parseCidr4(s);
    return sub.prefix >= net.prefix && ((sub.network ^ net.network) >>> (32 - net.prefix || 32)) === 0;
  };
  if (!inside(c.subnet)) ctx.addIssue({ code: 'custom', path: ['subnet'], message: `${c.subnet} is not inside the network ${c.network}` });
  if ((c.ipv6Network === undefined) !== (c.ipv6Subnet === undefined)) {
    const missing = c.ipv6Network === undefined ? 'ipv6Network' : 'ipv6Subnet';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'a dual-stack overlay needs both ipv6Network and ipv6Subnet' });
  }
  const inside6 = (s: string) => c.ipv6Network !== undefined && contains(parseCidr(c.ipv6Network), parseCidr(s));
  if (c.ipv6Network !== undefined && c.ipv6Subnet !== undefined && !inside6(c.ipv6Subnet)) {
    ctx.addIssue({ code: 'custom', path: ['ipv6Subnet'], message: `${c.ipv6Subnet} is not inside the network ${c.ipv6Network}` });
  }
  c.peers.forEach((p, i) => {
    if (p.ipv6Subnet !== undefined && !inside6(p.ipv6Subnet)) {
      ctx.addIssue({ code: 'custom', path: ['peers', i, 'ipv6Subnet'], message: `${p.ipv6Subnet} is not inside the network ${c.ipv6Network ?? '(no ipv6Network set)'}` });
    }
    if (!inside(p.subnet)) ctx.addIssue({ code: 'custom', path: ['peers', i, 'subnet'], message: `${p.subnet} is not inside the network ${c.network}` });
    if (c.backend.type === 'vxlan' && p.mac === undefined) ctx.addIssue({ code: 'custom', path: ['peers', i, 'mac'], message: 'the vxlan backend needs each peer\'s VTEP MAC' });
  });
});

export type StaticConfig = z.infer<typeof StaticConfig>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function parseStaticConfig(value: unknown): StaticConfig {
  const result = StaticConfig.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    let got = value as unknown;
    for (const p of issue.path) got = got === undefined || got === null ? undefined : (got as Record<PropertyKey, unknown>)[p as PropertyKey];
    return `${path || '(top level)'}: ${issue.message}${got !== undefined && typeof got !== 'object' ? ` (got ${JSON.stringify(got)})` : ''}`;
  }));
}

export function loadStaticConfig(file: string): StaticConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${file}: not valid JSON: ${(error as Error).message}`]);
  }
  return parseStaticConfig(json);
}
