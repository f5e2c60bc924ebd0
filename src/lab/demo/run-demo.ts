/**
 * `tulle demo` (`npm run demo`, `tulle lab demo`): three hosts in namespaces
 * run tulle daemons that agree on leases by gossip, six containers reach each
 * other over the vxlan overlay, and a short bench compares the backends with
 * the kernel. Needs only iproute2 and node: reachability and traffic use
 * tulle's own probes where ping and iperf3 are missing.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { formatLeases } from '../../cli/format.js';
import { LabProbes } from '../../probe/lab-probes.js';
import { formatMatrix, fullyReachable } from '../../probe/matrix.js';
import { DEFAULT_OUT, resultsDir } from '../../bench/options.js';
import { Lab } from '../netns.js';
import { addContainers, type Container } from './containers.js';
import { startDaemons, stopDaemons, waitConverged, type DemoDaemon } from './daemons.js';
import { exploreText } from './explore.js';
import { buildHosts, HOST_NAMES } from './hosts.js';
import { Progress } from './progress.js';
import { runThroughput, throughputTable } from './throughput.js';

export interface DemoOptions {
  /** Leave the lab and the daemons up. */
  keep: boolean;
  /** Where the bench's files go (default bench/results/demo in the current directory). */
  out?: string;
  /** Leave out the throughput step. */
  bench?: boolean;
}

/** The directory that holds a demo lab's state dirs: `tulle lab down` removes these. */
export function demoDir(prefix: string): string {
  return join(tmpdir(), `${prefix}demo`);
}

export const DEMO_DIR_PATTERN = /^tulle-[0-9a-z]+-demo$/;

/** Runs the demo; resolves with the exit code. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const progress = new Progress(options.bench === false ? 5 : 6);
  const out = options.out === undefined ? resultsDir(join(DEFAULT_OUT, 'demo')) : resultsDir(options.out);
  const lab = new Lab();
  const dir = demoDir(lab.prefix);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  lab.onDispose(() => rmSync(dir, { recursive: true, force: true }));
  let daemons: DemoDaemon[] = [];
  let labUp = true;
  let keepLab: () => void;
  const teardown = async () => {
    if (!labUp) return;
    labUp = false;
    await stopDaemons(daemons);
    lab.dispose();
  };
  try {
    progress.start(`building the lab (${lab.prefix}*): 3 hosts on a bridge, 192.0.2.1-3`);
    const { hosts, gro } = buildHosts(lab);
    progress.done(`veth GRO ${gro}`);

    progress.start('starting a tulle daemon per host (gossip leases, vxlan backend, 198.18.0.0/16)');
    const started = Date.now();
    daemons = await startDaemons(lab, hosts, dir);
    progress.update('waiting for the leases to converge');
    const views = await waitConverged(daemons, (counts) => progress.update(`peers routed per host: ${counts.join(', ')} of 2`));
    progress.done(`leases converged ${((Date.now() - started) / 1000).toFixed(1)} s after the first daemon started`);
    const subnets = views.map((v) => v.find((l) => l.state === 'own')!.subnet);
    progress.print(subnets.map((s, i) => `  ${HOST_NAMES[i]} (${hosts[i].underlay}) leased ${s}`).join('\n'));
    progress.print(`\nleases as ${HOST_NAMES[0]} sees them (tulle leases):\n${indent(formatLeases(views[0]))}\n`);

    progress.start("adding 2 containers per host (a bridge on the subnet's .1; containers .2 and .3)");
    const containers: Container[] = hosts.flatMap((h, i) => addContainers(lab, h, i, subnets[i]));
    keepLab = () => {
      lab.release();
      for (const d of daemons) d.child.unref();
      labUp = false;
      progress.print(
        `\n${exploreText({
          hosts: daemons.map((d, i) => ({ name: HOST_NAMES[i], ns: d.host.ns, stateDir: d.stateDir, log: d.log })),
          containers,
        })}`,
      );
    };
    progress.done(containers.map((c) => `${c.name} ${c.address}`).join(', '));

    progress.start("reachability: every container to every other (tulle's echo probe, 5 requests each)");
    const probes = new LabProbes(lab);
    const matrix = await probes.echoMatrix(containers, { count: 5, intervalMs: 20 });
    const all = fullyReachable(matrix);
    if (all) progress.done('all 30 pairs reachable');
    else progress.fail('NOT every pair is reachable');
    progress.print(`\nmedian RTT (ms) from row to column:\n${indent(formatMatrix(matrix))}\n`);
    if (!all) {
      progress.print(`the daemons' logs: ${daemons.map((d) => d.log).join(', ')}`);
      return 1;
    }

    if (options.keep) {
      progress.start('keeping the lab up (--keep)');
      progress.done(`namespaces ${lab.prefix}*, state in ${dir}`);
    } else {
      progress.start('stopping the daemons and removing the lab');
      await teardown();
      progress.done();
    }

    if (options.bench === false) {
      if (options.keep) keepLab();
      progress.print(`\ndone in ${progress.elapsed()} (throughput step left out: --no-bench)`);
      return 0;
    }

    progress.start(`throughput: underlay, kernel vxlan, tulle udp, vxlan and host-gw (1 s per test, in labs of their own)`);
    const result = await runThroughput(out, (line) =>
      progress.update(
        line
          .replace(/^\[[^\]]*\]\s*/, '')
          .split('\n')[0]
          .slice(0, 100),
      ),
    );
    if (result.code === 0) progress.done(`measured with ${result.tool}`);
    else progress.fail(`a measurement failed (${result.errors.length} error(s))`);
    progress.print(`\n${indent(throughputTable(result.rows))}\n`);
    for (const n of result.notes) progress.print(`note: ${n}`);
    for (const e of result.errors) progress.print(`error: ${e}`);
    progress.print('1 s per test and 1 repetition: a first look, not a benchmark (`tulle bench` is the benchmark; docs/benchmarks.md).');
    progress.print(`results: ${result.files.map(shown).join(', ')}`);

    if (options.keep) keepLab();
    progress.print(`\ndone in ${progress.elapsed()}`);
    return result.code === 0 ? 0 : 1;
  } catch (error) {
    progress.fail((error as Error).message);
    return 1;
  } finally {
    await teardown();
  }
}

/** A path as the user would type it: relative when it is under the working directory. */
function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r.startsWith('..') || r === '' ? path : r;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
