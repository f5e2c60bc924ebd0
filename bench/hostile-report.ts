/** The Markdown of `npm run hostile`: what was sent, where each datagram was counted, and the stream's throughput. */
import type { HostileResult } from './hostile-run.js';

const n = (v: number) => v.toLocaleString('en');

export function hostileMarkdown(r: HostileResult): string {
  const out: string[] = [];
  out.push('| port | bad datagrams | counted under | sent |', '|---|---|---|---|');
  for (const c of r.categories) out.push(`| ${c.port} | ${c.name} | \`${c.counter}\` | ${n(c.sent)} |`);
  out.push('', '| port | sent | counter | grew by | expected |', '|---|---|---|---|---|');
  for (const a of r.accounting) {
    for (const [counter, grew] of Object.entries(a.counted)) {
      if (grew === 0 && !(counter in a.expected)) continue;
      out.push(`| ${a.port} | ${n(a.sent)} | \`${counter}\` | ${n(grew)} | ${n(a.expected[counter] ?? 0)} |`);
    }
    out.push(`| ${a.port} | | **unexplained** (sent − counted) | **${n(a.unexplained)}** | 0 |`);
    if (a.port === 'data' && a.unexplained < 0)
      out.push(`| ${a.port} | | (the peer's own datagrams among the ${n(a.overflow)} the full socket dropped) | ${n(-a.unexplained)} | |`);
  }
  const s = r.stream;
  out.push(
    '',
    '| stream | MiB | s | Mbit/s | hash |',
    '|---|---|---|---|---|',
    `| unattacked | ${n(Math.round(s.baseline.bytes / 2 ** 20))} | ${s.baseline.seconds.toFixed(1)} | ${s.baseline.mbitPerSecond.toFixed(0)} | ${s.baseline.hashMatch ? 'matches' : 'MISMATCH'} |`,
    `| under attack | ${n(Math.round(s.attacked.bytes / 2 ** 20))} | ${s.attacked.seconds.toFixed(1)} | ${s.attacked.mbitPerSecond.toFixed(0)} (${((100 * s.attacked.mbitPerSecond) / s.baseline.mbitPerSecond).toFixed(0)}%) | ${s.attacked.hashMatch ? 'matches' : 'MISMATCH'} |`,
    '',
    `Crashes: ${r.crashes}. Hash mismatches: ${r.hashMismatches}. Drops while unattacked: ${r.baselineDrops}. ` +
      `Socket buffer overflows (any datagram): ${n(r.socketOverflows)}. Attack: data ${r.attackSeconds.data.toFixed(1)} s at ${n(r.options.dataRate)}/s, ` +
      `gossip ${r.attackSeconds.gossip.toFixed(1)} s at ${n(r.options.gossipRate)}/s. Gossip suspicions during the attack: ${r.gossip.suspicionsDuringAttack}; ` +
      `the peer's gossip datagrams lost at the full socket: ${n(r.gossip.legitimateLostAtSocket)}; ` +
      `other members alive after: ${r.gossip.membersAliveAfter.join(', ')}.`,
  );
  return out.join('\n') + '\n';
}
