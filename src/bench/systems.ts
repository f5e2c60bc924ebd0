/**
 * The systems a bench run can measure, and which of them a run measures
 * (pure: what is installed comes in as a function).
 */
import type { BenchOptions, TulleBackend } from './options.js';

export type SystemKind = 'reference' | 'tulle' | 'ladder' | 'other';

export interface Offloads {
  tun: boolean;
  udpGso: boolean;
  udpGro: boolean;
  /** tulle's whole super-packets (udp and vxlan over IPv4); unset: the daemon's default, 'auto'. */
  udpTunnelGso?: boolean;
  /** Received UDP runs written to the TUN as one USO super-packet; unset: the daemon's default, on. */
  uso?: boolean;
}

export interface SystemSpec {
  /** Id on the command line. */
  id: string;
  /** Name in the results ("system"). */
  system: string;
  kind: SystemKind;
  backend?: TulleBackend;
  batch?: number;
  offloads?: Offloads;
  /** tulle's `threads` (default 1). */
  threads?: 1 | 2;
  /** tulle's `replyInline` (default true; it applies with two threads). */
  replyInline?: boolean;
  /** tulle's `busyPollMicroseconds` (the low-latency mode; default 0, off). */
  busyPollUs?: number;
  /** tulle's `backlogYieldMicroseconds` (default: the daemon's, 500). */
  backlogYieldUs?: number;
  /** Pin host i's daemon to CPU i (mod the cores): the low-latency row is measured that way. */
  pin?: boolean;
  /** vxlan's `directRouting`: the bench hosts share a segment, so their traffic takes kernel routes past the TUN. */
  directRouting?: boolean;
}

export const ALL_OFFLOADS: Offloads = { tun: true, udpGso: true, udpGro: true };
export const NO_OFFLOADS: Offloads = { tun: false, udpGso: false, udpGro: false };

export const REFERENCES: SystemSpec[] = [
  { id: 'underlay', system: 'underlay', kind: 'reference' },
  { id: 'kernel-vxlan', system: 'kernel-vxlan', kind: 'reference' },
];

export function tulleSpec(backend: TulleBackend, offloads: Offloads): SystemSpec {
  return backend === 'host-gw'
    ? { id: 'tulle-host-gw', system: 'tulle-host-gw', kind: 'tulle', backend }
    : { id: `tulle-${backend}`, system: `tulle-${backend}`, kind: 'tulle', backend, batch: 64, offloads };
}

/** tulle-vxlan with directRouting: measured with the vxlan backend, as the peers on one segment get no tunnel at all. */
export const VXLAN_DIRECT_ID = 'tulle-vxlan-direct';

export function vxlanDirectSpec(offloads: Offloads): SystemSpec {
  return { ...tulleSpec('vxlan', offloads), id: VXLAN_DIRECT_ID, system: VXLAN_DIRECT_ID, directRouting: true };
}

// What each step of the design buys, from one packet per call upwards, on two threads (TX and RX):
// batching, the TUN's offloads, UDP GSO/GRO (GSO also carries runs of equal single datagrams), the
// replies sent by the RX thread (replyInline, for the RTT), USO writes of received UDP runs, and
// super-packets sent whole through the kernel's UDP-tunnel segmentation. The tulle-udp row then has one
// thread for both directions (the default). The last row is tulle-vxlan with its super-packets split
// in userspace, against the tulle-vxlan row, which sends them whole where the lab allows it; and tulle-vxlan
// without its yields while the TUN holds a backlog (backlogYieldMicroseconds 0), which the UDP tests show.
const STEP_OFFLOADS: Offloads = { ...ALL_OFFLOADS, udpTunnelGso: false, uso: false };
export const LADDER: SystemSpec[] = [
  { id: 'ladder-1', system: 'tulle-udp: no offloads, batch 1', kind: 'ladder', backend: 'udp', batch: 1, offloads: NO_OFFLOADS, threads: 2 },
  { id: 'ladder-2', system: 'tulle-udp: + batching (64)', kind: 'ladder', backend: 'udp', batch: 64, offloads: NO_OFFLOADS, threads: 2 },
  {
    id: 'ladder-3',
    system: 'tulle-udp: + TUN offloads',
    kind: 'ladder',
    backend: 'udp',
    batch: 64,
    offloads: { ...STEP_OFFLOADS, udpGso: false, udpGro: false },
    threads: 2,
  },
  { id: 'ladder-4', system: 'tulle-udp: + UDP GSO/GRO', kind: 'ladder', backend: 'udp', batch: 64, offloads: STEP_OFFLOADS, threads: 2, replyInline: false },
  { id: 'ladder-5', system: 'tulle-udp: + replies by the RX thread', kind: 'ladder', backend: 'udp', batch: 64, offloads: STEP_OFFLOADS, threads: 2 },
  {
    id: 'ladder-6',
    system: 'tulle-udp: + USO writes on receive',
    kind: 'ladder',
    backend: 'udp',
    batch: 64,
    offloads: { ...STEP_OFFLOADS, uso: true },
    threads: 2,
  },
  {
    id: 'ladder-7',
    system: 'tulle-udp: + super-packets whole (UDP-tunnel GSO)',
    kind: 'ladder',
    backend: 'udp',
    batch: 64,
    offloads: { ...STEP_OFFLOADS, uso: true, udpTunnelGso: true },
    threads: 2,
  },
  {
    id: 'ladder-8',
    system: 'tulle-vxlan: super-packets split here',
    kind: 'ladder',
    backend: 'vxlan',
    batch: 64,
    offloads: { ...ALL_OFFLOADS, udpTunnelGso: false },
  },
  {
    id: 'ladder-9',
    system: 'tulle-vxlan: no backlog yield',
    kind: 'ladder',
    backend: 'vxlan',
    batch: 64,
    offloads: ALL_OFFLOADS,
    backlogYieldUs: 0,
  },
];

/**
 * The low-latency mode's busy-poll window in its bench row (µs): longer than the gap between the bench's pings
 * (50 ms), so a daemon is still polling when the next one comes. What that costs is in the row's CPU columns.
 */
export const LOW_LATENCY_SPIN_US = 100_000;

/** tulle-vxlan in the low-latency mode, each daemon pinned to a core of its own (issue 19's conditions). */
export function lowLatencySpec(offloads: Offloads): SystemSpec {
  return {
    id: 'tulle-vxlan-lowlatency',
    system: `tulle-vxlan, busy-poll ${LOW_LATENCY_SPIN_US / 1000} ms, pinned`,
    kind: 'tulle',
    backend: 'vxlan',
    batch: 64,
    offloads,
    busyPollUs: LOW_LATENCY_SPIN_US,
    pin: true,
  };
}

export const OTHER_IDS = ['socat', 'wireguard-go', 'nebula', 'tinc'] as const;

export function otherSpec(id: string): SystemSpec {
  return { id, system: id, kind: 'other' };
}

/** Every id `--systems` accepts. */
export const SYSTEM_IDS: string[] = [
  ...REFERENCES.map((s) => s.id),
  'tulle-udp',
  'tulle-vxlan',
  'tulle-host-gw',
  'tulle-vxlan-lowlatency',
  VXLAN_DIRECT_ID,
  ...LADDER.map((s) => s.id),
  ...OTHER_IDS,
];

/** Whether another overlay can run here, and if not, why. */
export type Availability = (id: string) => { ok: true } | { ok: false; reason: string };

export interface Selection {
  systems: SystemSpec[];
  skipped: { system: string; reason: string }[];
}

/** The systems of a run: the references first, then tulle, the ladder and the others, minus what cannot run. */
export function selectSystems(options: BenchOptions, available: Availability): Selection {
  const offloads = options.offloads === 'on' ? ALL_OFFLOADS : NO_OFFLOADS;
  const skipped: Selection['skipped'] = [];
  let wanted: string[];
  if (options.systems !== undefined) {
    wanted = options.systems;
  } else {
    wanted = options.backends.map((b) => `tulle-${b}`);
    if (options.backends.includes('vxlan')) wanted.push('tulle-vxlan-lowlatency', VXLAN_DIRECT_ID);
    if (options.ladder) {
      if (options.offloads === 'off')
        for (const s of LADDER) skipped.push({ system: s.id, reason: 'the ladder adds offloads step by step: not with --offloads off' });
      else wanted.push(...LADDER.map((s) => s.id));
    }
    wanted.push(...(options.others === 'all' ? OTHER_IDS : options.others));
  }
  const systems: SystemSpec[] = [...REFERENCES];
  for (const id of wanted) {
    if (systems.some((s) => s.id === id)) continue;
    if (id === 'tulle-vxlan-lowlatency') systems.push(lowLatencySpec(offloads));
    else if (id === VXLAN_DIRECT_ID) systems.push(vxlanDirectSpec(offloads));
    else if (id.startsWith('tulle-')) systems.push(tulleSpec(id.slice('tulle-'.length) as TulleBackend, offloads));
    else if (id.startsWith('ladder-')) {
      if (options.offloads === 'off') skipped.push({ system: id, reason: 'the ladder adds offloads step by step: not with --offloads off' });
      else systems.push(LADDER.find((s) => s.id === id)!);
    } else {
      const a = available(id);
      if (a.ok) systems.push(otherSpec(id));
      else skipped.push({ system: id, reason: a.reason });
    }
  }
  return { systems, skipped };
}
