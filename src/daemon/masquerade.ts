/**
 * IP masquerade for traffic leaving the overlay, in an nftables table of
 * tulle's own (`ip tulle`), so it is added and removed whole and touches no
 * one else's rules. The rules are flannel's:
 *
 *   overlay → overlay                     leave alone
 *   overlay → elsewhere (not multicast)   masquerade (containers reach the world as the host)
 *   elsewhere → our subnet                leave alone (traffic to our containers keeps its source)
 *   elsewhere → overlay                   masquerade (the host's own traffic into the overlay)
 */
import { execFileSync } from 'node:child_process';

export const TABLE = 'tulle';

export function masqueradeRules(network: string, subnet: string): string {
  return [
    `table ip ${TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${network} ip daddr ${network} return`,
    `    ip saddr ${network} ip daddr != 224.0.0.0/4 masquerade fully-random`,
    `    ip saddr != ${network} ip daddr ${subnet} return`,
    `    ip saddr != ${network} ip daddr ${network} masquerade fully-random`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function nft(script: string): void {
  try {
    execFileSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`nft: ${(error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message}`, { cause: error });
  }
}

/**
 * Installs the table, replacing one a killed daemon left: declaring the table
 * first makes the delete succeed either way, and `nft -f` applies the whole
 * script atomically.
 */
export function installMasquerade(network: string, subnet: string): void {
  nft(`table ip ${TABLE}\ndelete table ip ${TABLE}\n${masqueradeRules(network, subnet)}`);
}

export function removeMasquerade(): void {
  nft(`table ip ${TABLE}\ndelete table ip ${TABLE}\n`);
}

/** Whether the table is there (ours, or one a killed daemon left). */
export function hasMasquerade(): boolean {
  try {
    execFileSync('nft', ['list', 'table', 'ip', TABLE], { stdio: ['ignore', 'ignore', 'ignore'] });
    return true;
  } catch {
    return false;
  }
}
