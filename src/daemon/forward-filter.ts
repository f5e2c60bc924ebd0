/**
 * Whether the host's firewall drops forwarded packets by default: whole
 * super-packets (tunnel-tap.ts) are forwarded from the tunnel TAP, so a base
 * chain on the forward hook with a drop policy (Docker sets one) would drop
 * them while small packets, which leave through sockets, still pass.
 *
 * Reads nftables (which iptables-nft writes to as well), iptables and
 * iptables-legacy, where their tools are installed. Only policies are read: a rule that drops
 * some forwarded packets under an accepting policy is the operator's to know.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The chains on the forward hook whose policy is drop, described for a log line. */
export function forwardDropPolicies(): string[] {
  const found: string[] = [];
  const nft = run('nft', ['-j', 'list', 'chains']);
  if (nft !== undefined) {
    try {
      const parsed = JSON.parse(nft) as { nftables?: { chain?: { family: string; table: string; name: string; hook?: string; policy?: string } }[] };
      for (const { chain } of parsed.nftables ?? []) {
        if (chain?.hook === 'forward' && chain.policy === 'drop') found.push(`nftables ${chain.family} ${chain.table} chain ${chain.name} (policy drop)`);
      }
    } catch {
      found.push('nftables (its JSON listing could not be read)');
    }
  }
  // iptables (nft or legacy behind it: Docker hosts often have it without the nft tool) and iptables-legacy.
  // iptables-legacy only where legacy tables exist: listing them would create them (and iptables-nft then
  // warns "iptables-legacy tables present" on every command).
  for (const tool of legacyTables() ? ['iptables', 'iptables-legacy'] : ['iptables']) {
    const rules = run(tool, ['-S', 'FORWARD']);
    if (rules !== undefined && /^-P FORWARD DROP$/m.test(rules)) found.push(`${tool} FORWARD (policy DROP)`);
  }
  return [...new Set(found)];
}

function legacyTables(): boolean {
  try {
    return readFileSync('/proc/net/ip_tables_names', 'utf8').split('\n').includes('filter');
  } catch {
    return false;
  }
}

/** A tool's output, or undefined when it is not installed or fails. */
function run(tool: string, args: string[]): string | undefined {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
  } catch {
    return undefined;
  }
}
