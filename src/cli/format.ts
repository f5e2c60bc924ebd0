/**
 * `tulle status` and `tulle leases` as text for people. Pure.
 */
import { describeHealth } from '../daemon/health.js';
import type { LeaseView, StatusView } from '../daemon/status-view.js';

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

/** "never", "in 23 h", or "expired 5 s ago". */
export function expiry(iso: string | null, now = Date.now()): string {
  if (iso === null) return 'never';
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  return seconds >= 0 ? `in ${duration(seconds)}` : `expired ${duration(-seconds)} ago`;
}

export function formatStatus(s: StatusView, now = Date.now()): string {
  const rows: [string, string][] = [
    ['tulle', `${s.version}, pid ${s.pid}, up ${duration(s.uptimeSeconds)}`],
    ['health', describeHealth(s.health)],
    ['network', `${s.network} (subnets /${s.subnetLen})`],
    ['subnet', `${s.subnet} (lease expires ${expiry(s.expiration, now)})`],
    [
      'backend',
      [
        s.backend.type,
        s.backend.port !== undefined ? `port ${s.backend.port}` : '',
        s.backend.vni !== undefined ? `vni ${s.backend.vni}` : '',
        s.backend.vtepMac ? `vtep ${s.backend.vtepMac}` : '',
        s.backend.directRouting === true ? 'direct routing' : '',
      ]
        .filter(Boolean)
        .join(', '),
    ],
    ['underlay', `${s.underlay.address} on ${s.underlay.device}`],
  ];
  if (s.tun)
    rows.push([
      'device',
      `${s.tun.name} ${s.tun.address} mtu ${s.tun.mtu}; offloads ${Object.entries(s.tun.offloads)
        .map(([k, v]) => `${k} ${v ? 'on' : 'off'}`)
        .join(', ')}`,
    ]);
  else rows.push(['mtu', String(s.mtu)]);
  rows.push(
    [
      'store',
      `${s.store.description}${s.store.health ? `, ${s.store.health.state}${s.store.health.state === 'ok' ? ` (${s.store.health.detail})` : `: ${s.store.health.detail}`}` : ''}`,
    ],
    ['leases', `${s.leases} (${s.peers} peers routed)`],
    ['ip masq', s.ipMasq ? 'on' : 'off'],
    ['subnet file', s.subnetFile],
  );
  if (s.dockerOptsFile) rows.push(['docker opts', s.dockerOptsFile]);
  rows.push(['state dir', s.stateDir]);
  if (s.metricsAddress) rows.push(['metrics', `http://${s.metricsAddress}/metrics`]);
  if (s.healthAddress) rows.push(['healthz', `http://${s.healthAddress}/healthz`]);
  if (s.routes) {
    const r = s.routes;
    const repairs =
      r.restored + r.staleRemoved + r.foreignRemoved > 0
        ? `; restored ${r.restored}, stale removed ${r.staleRemoved}, foreign removed ${r.foreignRemoved}`
        : '';
    rows.push(['routes', `reconcile ${r.mode}; ${r.foreign.length === 0 ? 'no foreign routes' : `${r.foreign.length} foreign`}${repairs}`]);
    for (const f of r.foreign) rows.push(['foreign route', `${f.route} shadows ${f.shadows.join(', ')}`]);
  }
  if (s.paths) {
    const direct = s.paths.filter((p) => p.path === 'direct').length;
    rows.push(['paths', `${direct} direct, ${s.paths.length - direct} vxlan`]);
    for (const p of s.paths) rows.push(['path', `${p.subnet} (${p.address}) ${p.path}: ${p.reason}`]);
  }
  if (s.counters) {
    const c = s.counters;
    const drops = Object.entries(c)
      .filter(([k, v]) => (k.startsWith('drop') || k.endsWith('Errors')) && v > 0)
      .map(([k, v]) => `${k} ${v}`);
    rows.push(
      ['tx', `${c.txPackets} packets, ${bytes(c.txBytes)}`],
      ['rx', `${c.rxPackets} packets, ${bytes(c.rxBytes)}`],
      ['drops', drops.length === 0 ? 'none' : drops.join(', ')],
    );
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

export function formatLeases(leases: LeaseView[], now = Date.now()): string {
  return table(
    ['SUBNET', 'PUBLIC IP', 'BACKEND', 'VTEP MAC', 'PORT', 'EXPIRES', 'STATE'],
    leases.map((l) => [
      l.subnet,
      l.publicIPv6 && l.publicIP === '0.0.0.0' ? l.publicIPv6 : l.publicIP,
      l.backendType,
      l.backendData.VtepMAC ?? '-',
      l.backendData.Port !== undefined ? String(l.backendData.Port) : '-',
      expiry(l.expires, now),
      l.reason ? `${l.state}: ${l.reason}` : l.state,
    ]),
  );
}
