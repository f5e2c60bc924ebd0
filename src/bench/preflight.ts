/**
 * Reasons not to start (pure: the facts come in). The bench refuses to start
 * rather than produce a table with holes or numbers spoiled by another run.
 */
import type { BenchOptions } from './options.js';
import { installHint } from './tools.js';

export interface Facts {
  root: boolean;
  /** Tools the run needs that are not on the PATH. */
  missingTools: string[];
  distBuilt: boolean;
  addonBuilt: boolean;
  /** Namespaces an earlier bench run left (prefix tulle-bench). */
  leftovers: string[];
}

/** The tools a run needs, whatever it measures. */
export function requiredTools(options: BenchOptions): string[] {
  // ip and bridge come with iproute2 (the kernel-vxlan reference needs bridge fdb entries).
  return ['ip', 'bridge', ...(options.tool === 'iperf3' ? ['iperf3'] : [])];
}

export function preflightProblems(facts: Facts): string[] {
  const problems: string[] = [];
  if (!facts.root) problems.push('needs root (it creates network namespaces, veth, vxlan and TUN devices): run it with sudo');
  for (const tool of facts.missingTools) problems.push(`${tool} is not installed (Debian: ${installHint(tool)})`);
  if (!facts.distBuilt) problems.push('dist/ is not built: run `npm run build` (or `npm ci`) first');
  if (!facts.addonBuilt)
    problems.push(
      'the native addon is not built (native/build/Release/tulle.node): `node scripts/build-native.mjs` builds it, or names what building it needs',
    );
  if (facts.leftovers.length > 0) {
    problems.push(
      `namespaces of an earlier bench run still exist (${facts.leftovers.slice(0, 5).join(', ')}${facts.leftovers.length > 5 ? ', …' : ''}); ` +
        'a bench still running, or one that was killed: remove them with `tulle lab down` (it removes every tulle namespace)',
    );
  }
  return problems;
}

/** Which tools measure: iperf3 and ping where wanted and installed, else tulle's probes (pure). */
export interface ToolChoice {
  throughput: 'iperf3' | 'builtin';
  latency: 'ping' | 'echo';
  /** Also measure the underlay once with iperf3/ping, to show how far the built-in probes fall short. */
  calibrate: boolean;
  notes: string[];
}

export function chooseTools(tool: BenchOptions['tool'], installed: { iperf3: boolean; ping: boolean }): ToolChoice {
  const notes: string[] = [];
  let throughput: ToolChoice['throughput'];
  if (tool === 'iperf3') throughput = 'iperf3';
  else if (tool === 'builtin') throughput = 'builtin';
  else if (installed.iperf3) throughput = 'iperf3';
  else {
    throughput = 'builtin';
    notes.push(
      "iperf3 is not installed: throughput measured with tulle's built-in generator (Node, one process per side); install iperf3 for the reference figures",
    );
  }
  const latency: ToolChoice['latency'] = throughput === 'iperf3' && installed.ping ? 'ping' : 'echo';
  if (latency === 'echo') {
    notes.push(
      `RTT measured with tulle's echo probe${installed.ping ? '' : ' (ping is not installed)'}: Node on both ends adds event-loop wake-ups, so it reads higher than ping; compare rows, not absolute values`,
    );
  }
  const calibrate = throughput === 'builtin' && installed.iperf3;
  return { throughput, latency, calibrate, notes };
}
