/**
 * Overlay traffic through firewalls that drop forwarded packets by policy.
 * Docker sets iptables' FORWARD policy to DROP (flannel #609, #799); a packet
 * between containers on different hosts is forwarded on both (from the
 * container bridge into the TUN, and from the TUN into the peer's bridge), so
 * such a policy on either host drops it. As flannel does, tulle accepts
 * forwarded packets from and to the overlay networks in each chain that drops
 * by policy: in that chain itself, since an accept elsewhere does not outweigh
 * its drop, and at its head (forward-firewalls.ts says why).
 *
 * A chain whose policy accepts gets nothing. The rules carry tulle's
 * comment: those a killed daemon left are removed before adding, so they never
 * pile up; every CHECK_MS the firewalls are read again, and rules that someone
 * flushed, or that no longer head their chain, are put back at its head (as
 * are rules for a chain that started dropping since, like Docker's when it
 * starts after tulle). A stop removes them all.
 */
import type { Logger } from 'pino';
import {
  acceptRule,
  describeRule,
  findTools,
  readForward,
  replaceRules,
  rulesFor,
  type AcceptRule,
  type FirewallTools,
  type ForwardChain,
  type ForwardView,
  type IpFamily,
} from './forward-firewalls.js';

/** How often the rules are checked, and put back when missing. */
export const CHECK_MS = 10_000;

export interface OverlayNetworks {
  ipv4: string;
  ipv6?: string;
}

export interface ForwardAccept {
  /** How many times rules were put back at the head of a chain, after they were removed or a rule was inserted above them. */
  readonly restores: number;
  /** Stops checking and removes every rule of tulle's. */
  stop(): Promise<void>;
}

export async function startForwardAccept(networks: OverlayNetworks, log: Logger, checkMs = CHECK_MS): Promise<ForwardAccept> {
  const wanted: AcceptRule[] = [];
  for (const network of [networks.ipv4, networks.ipv6]) {
    if (network !== undefined) wanted.push(acceptRule('from', network), acceptRule('to', network));
  }
  const families: IpFamily[] = networks.ipv6 !== undefined ? [4, 6] : [4];
  const tools = await findTools(families);
  if (tools.unread.length > 0) {
    log.info({ event: 'forward chains unread', unread: tools.unread }, `forward chains not checked for a drop policy: ${tools.unread.join('; ')}`);
  }
  /** Chains tulle has put its rules in: a chain among them that lacks them again had them removed. */
  const installed = new Set<string>();
  /** Errors already logged, so that a check every 10 s does not repeat them. */
  const reported = new Set<string>();
  let restores = 0;
  const warnOnce = (event: string, text: string) => {
    if (reported.has(text)) return;
    reported.add(text);
    log.warn({ event, error: text }, `warning: ${text}`);
  };

  // Rules a killed daemon left, possibly for another network: removed before anything is added.
  const first = await readForward(tools);
  for (const error of first.errors) warnOnce('forward chains unread', error);
  const left = await removeAll(first, tools, warnOnce);
  if (left.length > 0)
    log.info({ event: 'forward rules left removed', chains: left }, `removed forward accept rules a previous run left in ${left.join(', ')}`);

  /** Adds the rules each dropping chain lacks; returns how many chains drop overlay traffic by policy. */
  const check = async (view?: ForwardView & { errors: string[] }): Promise<number> => {
    const now = view ?? (await readForward(tools));
    for (const error of now.errors) warnOnce('forward chains unread', error);
    let dropping = 0;
    for (const chain of now.dropping) {
      const rules = rulesFor(chain, wanted);
      if (rules.length === 0) continue;
      dropping += 1;
      const present = now.ours.filter((r) => r.chain.label === chain.label);
      // At the head, or a drop inserted above them (Docker inserts its rules at the top when it starts or
      // creates a network) catches the overlay's packets first.
      if (rules.every((rule) => present.some((p) => p.comment === rule.comment && p.position < rules.length))) continue;
      const there = rules.every((rule) => present.some((p) => p.comment === rule.comment));
      try {
        await replaceRules(chain, present, rules, tools);
      } catch (error) {
        warnOnce('forward rules failed', `could not add forward accept rules to ${chain.label}: ${(error as Error).message}`);
        continue;
      }
      const text = rules.map((rule) => describeRule(chain, rule)).join(', ');
      if (installed.has(chain.label)) {
        restores += 1;
        const why = there ? 'a rule was inserted above them' : 'they were removed';
        log.warn(
          { event: 'forward rules restored', chain: chain.label, rules: text, why },
          `forward accept rules in ${chain.label}: ${why}; put back at the head (${text})`,
        );
      } else {
        installed.add(chain.label);
        log.info(
          { event: 'forward rules added', chain: chain.label, rules: text },
          `${chain.label} drops forwarded packets by policy: accepting the overlay's (${text})`,
        );
      }
    }
    return dropping;
  };
  if ((await check(first.ours.length === 0 ? first : undefined)) === 0)
    log.info({ event: 'forward rules none' }, 'no forward chain drops by policy: no accept rules needed');

  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    // One check at a time: a slow firewall command must not let two add the same rules.
    running = running
      .then(async () => {
        if (!stopped) await check();
      })
      .catch((error: Error) => warnOnce('forward rules failed', error.message));
  }, checkMs);
  return {
    get restores() {
      return restores;
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
      const removed = await removeAll(await readForward(tools), tools, warnOnce);
      if (removed.length > 0) log.info({ event: 'forward rules removed', chains: removed }, `removed the forward accept rules from ${removed.join(', ')}`);
    },
  };
}

/** Removes every rule of tulle's found in `view`; returns the chains it removed them from. */
async function removeAll(view: ForwardView, tools: FirewallTools, warn: (event: string, text: string) => void): Promise<string[]> {
  const byChain = new Map<string, { chain: ForwardChain; rules: ForwardView['ours'] }>();
  for (const found of view.ours) {
    const entry = byChain.get(found.chain.label) ?? { chain: found.chain, rules: [] };
    entry.rules.push(found);
    byChain.set(found.chain.label, entry);
  }
  const done: string[] = [];
  for (const { chain, rules } of byChain.values()) {
    try {
      await replaceRules(chain, rules, [], tools);
      done.push(chain.label);
    } catch (error) {
      warn('forward rules failed', `could not remove tulle's forward accept rules from ${chain.label}: ${(error as Error).message}`);
    }
  }
  return done;
}
