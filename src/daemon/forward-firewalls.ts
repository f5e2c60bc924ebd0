/**
 * The host's firewalls as far as forwarded overlay traffic is concerned: which
 * base chains on the forward hook drop by policy, and which of tulle's accept
 * rules (found by their comment) are in them, read through the tools each
 * firewall has; and the commands that add and delete those rules.
 *
 * Three firewalls can hold such a chain, and a packet must get through every
 * one of them (in nftables a drop in any base chain on the hook wins over an
 * accept in another):
 *   - iptables-nft (Docker's `iptables -P FORWARD DROP`): chain FORWARD of
 *     table filter, changed with its own command, since nftables rules in a
 *     table iptables manages would make iptables refuse to list it;
 *   - iptables-legacy: the same chain in the kernel's x_tables, read only when
 *     the namespace has legacy tables (/proc/net/ip_tables_names), so that
 *     looking does not load the legacy modules;
 *   - nftables: any other base chain on the forward hook with policy drop
 *     (families ip, ip6, inet), changed with `nft -j`, which takes any table
 *     or chain name as it is.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type IpFamily = 4 | 6;

/** A base chain on the forward hook. */
export type ForwardChain =
  | { kind: 'iptables'; tool: string; family: IpFamily; label: string }
  | { kind: 'nft'; family: 'ip' | 'ip6' | 'inet'; table: string; chain: string; label: string };

/** One accept rule of tulle's: forwarded packets from, or to, an overlay network. */
export interface AcceptRule {
  direction: 'from' | 'to';
  network: string;
  family: IpFamily;
  /** How tulle finds the rule again: `tulle: accept from 198.18.0.0/16`. */
  comment: string;
}

/** An accept rule of tulle's found in a chain, with what deleting it takes. */
export interface FoundRule {
  chain: ForwardChain;
  comment: string;
  /** Where the rule is in its chain, 0 at the head. */
  position: number;
  /** nftables: the rule's handle. */
  handle?: number;
  /** iptables: the rule as `-S` prints it, without `-A FORWARD`. */
  spec?: string[];
}

export interface ForwardView {
  /** Chains whose policy drops forwarded packets, whatever rules they hold. */
  dropping: ForwardChain[];
  /** tulle's accept rules, in any chain on the forward hook. */
  ours: FoundRule[];
}

/** The tools found for this host's firewalls, and the firewalls that cannot be read for want of one. */
export interface FirewallTools {
  nft?: string;
  iptables: { tool: string; family: IpFamily; variant: 'nft' | 'legacy' }[];
  unread: string[];
}

export const COMMENT_PREFIX = 'tulle: accept ';

export function acceptRule(direction: AcceptRule['direction'], network: string): AcceptRule {
  return { direction, network, family: network.includes(':') ? 6 : 4, comment: `${COMMENT_PREFIX}${direction} ${network}` };
}

/** A command's output; rejects with its stderr (or why it could not run). */
function command(tool: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${tool} ${args.map((a) => (a.length > 60 ? `${a.slice(0, 57)}...` : a)).join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

async function version(tool: string): Promise<string | undefined> {
  try {
    return await command(tool, ['-V']);
  } catch {
    return undefined;
  }
}

/** The namespace has legacy x_tables tables of this family (the file lists them; absent without the modules). */
function legacyTables(family: IpFamily): boolean {
  try {
    return readFileSync(family === 4 ? '/proc/net/ip_tables_names' : '/proc/net/ip6_tables_names', 'utf8')
      .split('\n')
      .includes('filter');
  } catch {
    return false;
  }
}

/**
 * Finds the tools once. `iptables` itself may be either variant (Debian's alternatives), and a host may have
 * only that name: `-V` says which ("(nf_tables)", "(legacy)"; older versions say nothing and are legacy).
 */
export async function findTools(families: readonly IpFamily[]): Promise<FirewallTools> {
  const tools: FirewallTools = { iptables: [], unread: [] };
  try {
    await command('nft', ['--version']);
    tools.nft = 'nft';
  } catch {
    // iptables-nft below still covers its own tables
  }
  for (const family of families) {
    const base = family === 4 ? 'iptables' : 'ip6tables';
    const plain = await version(base);
    const nft = (await version(`${base}-nft`)) !== undefined ? `${base}-nft` : plain?.includes('(nf_tables)') ? base : undefined;
    const legacy =
      (await version(`${base}-legacy`)) !== undefined ? `${base}-legacy` : plain !== undefined && !plain.includes('(nf_tables)') ? base : undefined;
    if (nft !== undefined) tools.iptables.push({ tool: nft, family, variant: 'nft' });
    if (legacy !== undefined) tools.iptables.push({ tool: legacy, family, variant: 'legacy' });
    else if (legacyTables(family)) tools.unread.push(`${base}-legacy (legacy ${base} tables exist, but no ${base}-legacy command)`);
  }
  if (tools.nft === undefined) {
    tools.unread.push(
      tools.iptables.some((t) => t.variant === 'nft') ? "nftables tables other than iptables' (no nft command)" : 'nftables (no nft or iptables-nft command)',
    );
  }
  return tools;
}

/** `-S` output's words, quoted ones whole: `--comment "tulle: accept from …"`. */
function words(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]));
}

interface NftChain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  policy?: string;
}
interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment?: string;
}

const NFT_FAMILIES = new Set(['ip', 'ip6', 'inet']);

/**
 * What the firewalls hold now. A firewall that cannot be read this time is left out, and the error is
 * returned, so that a caller neither adds rules twice nor takes a failed read for an empty chain.
 */
export async function readForward(tools: FirewallTools): Promise<ForwardView & { errors: string[] }> {
  const view: ForwardView & { errors: string[] } = { dropping: [], ours: [], errors: [] };
  /** nftables chains that iptables-nft reads and changes itself. */
  const byIptables = new Set<string>();
  for (const { tool, family, variant } of tools.iptables) {
    if (variant === 'legacy' && !legacyTables(family)) continue;
    if (variant === 'nft') byIptables.add(`${family === 4 ? 'ip' : 'ip6'} filter FORWARD`);
    let listing: string;
    try {
      listing = await command(tool, ['-w', '5', '-S', 'FORWARD']);
    } catch (error) {
      view.errors.push((error as Error).message);
      continue;
    }
    const chain: ForwardChain = { kind: 'iptables', tool, family, label: `${tool} filter FORWARD` };
    if (/^-P FORWARD DROP$/m.test(listing)) view.dropping.push(chain);
    const rules = listing
      .split('\n')
      .map(words)
      .filter((w) => w[0] === '-A');
    rules.forEach((w, position) => {
      const at = w.indexOf('--comment');
      if (at > 0 && w[at + 1]?.startsWith(COMMENT_PREFIX)) view.ours.push({ chain, comment: w[at + 1], position, spec: w.slice(2) });
    });
  }
  if (tools.nft !== undefined) {
    let parsed: { nftables?: { chain?: NftChain; rule?: NftRule }[] };
    try {
      // -t leaves out the elements of sets, which can be many (kube-proxy) and say nothing here.
      parsed = JSON.parse(await command(tools.nft, ['-j', '-t', 'list', 'ruleset'])) as typeof parsed;
    } catch (error) {
      view.errors.push((error as Error).message);
      return view;
    }
    const chains = new Map<string, ForwardChain & { kind: 'nft' }>();
    const nftChain = (family: string, table: string, chain: string) => {
      const key = `${family} ${table} ${chain}`;
      let found = chains.get(key);
      if (found === undefined) {
        found = { kind: 'nft', family: family as 'ip' | 'ip6' | 'inet', table, chain, label: `nftables ${family} ${table} chain ${chain}` };
        chains.set(key, found);
      }
      return found;
    };
    /** Rules seen so far in each chain: the listing gives a chain's rules in their order. */
    const seen = new Map<string, number>();
    for (const { chain, rule } of parsed.nftables ?? []) {
      if (
        chain !== undefined &&
        chain.hook === 'forward' &&
        chain.policy === 'drop' &&
        NFT_FAMILIES.has(chain.family) &&
        !byIptables.has(`${chain.family} ${chain.table} ${chain.name}`)
      ) {
        view.dropping.push(nftChain(chain.family, chain.table, chain.name));
      }
      if (rule === undefined) continue;
      const where = nftChain(rule.family, rule.table, rule.chain);
      const position = seen.get(where.label) ?? 0;
      seen.set(where.label, position + 1);
      if (rule.comment?.startsWith(COMMENT_PREFIX)) view.ours.push({ chain: where, comment: rule.comment, position, handle: rule.handle });
    }
  }
  return view;
}

/** The rules that `chain` needs, of those wanted: a chain of one address family takes only that family's. */
export function rulesFor(chain: ForwardChain, wanted: readonly AcceptRule[]): AcceptRule[] {
  const family: IpFamily | undefined = chain.kind === 'iptables' ? chain.family : chain.family === 'ip' ? 4 : chain.family === 'ip6' ? 6 : undefined;
  return wanted.filter((r) => family === undefined || r.family === family);
}

/** How a rule reads in the log, in the firewall's own terms. */
export function describeRule(chain: ForwardChain, rule: AcceptRule): string {
  if (chain.kind === 'iptables') return `${rule.direction === 'from' ? '-s' : '-d'} ${rule.network} -j ACCEPT`;
  return `${rule.family === 4 ? 'ip' : 'ip6'} ${rule.direction === 'from' ? 'saddr' : 'daddr'} ${rule.network} accept`;
}

/**
 * Puts `rules` at the head of `chain` (a rule further down, like Docker's drop of traffic into its bridges
 * from other devices, would otherwise catch overlay traffic first), deleting `stale` (tulle's rules already
 * there) in the same go. nftables does it in one transaction; iptables one command at a time.
 */
export async function replaceRules(chain: ForwardChain, stale: readonly FoundRule[], rules: readonly AcceptRule[], tools: FirewallTools): Promise<void> {
  if (chain.kind === 'iptables') {
    for (const found of stale) await command(chain.tool, ['-w', '5', '-D', 'FORWARD', ...found.spec!]);
    // Inserted last to first, so that they read in order at the head.
    for (const rule of [...rules].reverse()) {
      await command(chain.tool, [
        '-w',
        '5',
        '-I',
        'FORWARD',
        '1',
        rule.direction === 'from' ? '-s' : '-d',
        rule.network,
        '-m',
        'comment',
        '--comment',
        rule.comment,
        '-j',
        'ACCEPT',
      ]);
    }
    return;
  }
  const where = { family: chain.family, table: chain.table, chain: chain.chain };
  const commands: object[] = stale.map((found) => ({ delete: { rule: { ...where, handle: found.handle } } }));
  for (const rule of [...rules].reverse()) {
    commands.push({
      insert: {
        rule: {
          ...where,
          comment: rule.comment,
          expr: [
            {
              match: {
                op: '==',
                left: { payload: { protocol: rule.family === 4 ? 'ip' : 'ip6', field: rule.direction === 'from' ? 'saddr' : 'daddr' } },
                right: prefix(rule.network),
              },
            },
            { accept: null },
          ],
        },
      },
    });
  }
  // As an argument: nft cannot open /dev/stdin when it is a socket, as Node's pipes are.
  await command(tools.nft!, ['-j', JSON.stringify({ nftables: commands })]);
}

function prefix(cidr: string): { prefix: { addr: string; len: number } } {
  const [addr, len] = cidr.split('/');
  return { prefix: { addr, len: Number(len) } };
}
