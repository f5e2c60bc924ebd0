/**
 * Reachability between podman containers with busybox's ping, from inside
 * each container: every container pings every other, all containers at once.
 * The replies become the same matrix the namespaces demo prints
 * (src/probe/matrix.ts).
 */
import { summarizeRtt, lossPct, type EchoResult } from '../../probe/summary.js';
import type { EchoMatrix } from '../../probe/lab-probes.js';
import type { PodmanContainer } from './podman-containers.js';

/** The script one container runs (pure): a marker line per target, then ping's own output. */
export function pingScript(targets: string[], count: number): string {
  return `for ip in ${targets.join(' ')}; do echo "== $ip"; ping -c ${count} -i 0.2 -W 2 $ip; done; true`;
}

/** busybox ping's output from `pingScript` (pure): one result per target, from its reply lines. */
export function parsePings(output: string, targets: string[], count: number): EchoResult[] {
  const rtts = new Map<string, number[]>(targets.map((t) => [t, []]));
  let current: number[] | undefined;
  for (const line of output.split('\n')) {
    const marker = /^== (\S+)$/.exec(line);
    if (marker) current = rtts.get(marker[1]);
    const reply = /^\d+ bytes from ([0-9.]+): seq=\d+ ttl=\d+ time=([0-9.]+) ms$/.exec(line);
    // A reply counts for the target being pinged only when it comes from that target.
    if (reply && current !== undefined && rtts.get(reply[1]) === current) current.push(Number(reply[2]));
  }
  return targets.map((target) => {
    const samples = rtts.get(target)!.slice(0, count);
    return { target, sent: count, received: samples.length, loss_pct: lossPct(count, samples.length), rtt_ms: summarizeRtt(samples), unexpected: 0 };
  });
}

/** Every container pings every other `count` times; the rows run in parallel. */
export async function pingMatrix(containers: PodmanContainer[], count: number): Promise<EchoMatrix> {
  const rows = await Promise.all(
    containers.map(async (from) => {
      const targets = containers.filter((c) => c !== from).map((c) => c.address);
      const r = await from.host.execAsync(['podman', 'exec', from.name, 'sh', '-c', pingScript(targets, count)], 60_000);
      if (r.status !== 0) throw new Error(`podman exec ${from.name} failed (exit ${r.status}): ${r.stderr.trim()}`);
      return parsePings(r.stdout, targets, count);
    }),
  );
  return {
    nodes: containers.map((c) => c.name),
    cells: containers.map((from, i) => containers.map((to, j) => (i === j ? null : (rows[i].find((r) => r.target === to.address) ?? null)))),
  };
}
