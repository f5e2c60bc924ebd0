/**
 * The tulle command tree: every command, subcommand and option, without
 * parsing anything. main.ts parses argv with it; completion scripts, the help
 * and the docs check (test/cli-docs.test.ts) walk the same tree. Each command
 * loads what it needs when it runs, so building the tree stays cheap.
 */
import { Command, InvalidArgumentError } from 'commander';
import { packageVersion } from '../util/package-root.js';
import { registerBench } from './bench-command.js';
import { registerCni } from './cni-command.js';
import { registerCompletion } from './completion-command.js';
import { registerConfig } from './config-command.js';
import { registerDaemonCommands } from './daemon-commands.js';
import { EXIT } from './exit-codes.js';
import { requireAddon } from './require-addon.js';
import { requireRoot } from './require-root.js';
import { registerRun } from './run-command.js';
import { registerInstallService } from './service-command.js';

const DEMO_HELP =
  'three hosts in namespaces run tulle on gossip leases; six containers (namespaces, or podman ones with --runtime podman) reach each other; a short throughput table (needs root)';

const RUNTIMES = ['namespaces', 'podman'] as const;

function parseRuntime(value: string): (typeof RUNTIMES)[number] {
  const runtime = RUNTIMES.find((r) => r === value);
  if (runtime === undefined) throw new InvalidArgumentError(`--runtime is one of ${RUNTIMES.join(', ')}.`);
  return runtime;
}

function registerDemo(parent: Command, name: string, usage: string): void {
  parent
    .command(name)
    .description(DEMO_HELP)
    .option('--keep', 'leave the lab and the daemons up, and print how to explore it (`tulle lab down` removes it)')
    .option('--out <dir>', 'where the throughput results go (default: bench/results/demo in the current directory)')
    .option('--no-bench', 'leave out the throughput step (with podman: the verified transfer)')
    .option(
      '--runtime <runtime>',
      "the containers: namespaces (network namespaces; needs only iproute2) or podman (podman containers on tulle's CNI plugin)",
      parseRuntime,
      'namespaces',
    )
    .action(async (options: { keep?: boolean; out?: string; bench: boolean; runtime: 'namespaces' | 'podman' }) => {
      requireRoot(usage, 'creates network namespaces and TUN devices');
      requireAddon();
      const demo = { keep: options.keep === true, out: options.out, bench: options.bench };
      if (options.runtime === 'podman') {
        const { findPodmanTools, missingMessage } = await import('../lab/podman/requirements.js');
        const found = findPodmanTools();
        if ('missing' in found) {
          console.error(missingMessage(`${usage} --runtime podman`, found.missing));
          process.exit(EXIT.MISSING_TOOLS);
        }
        const { runPodmanDemo } = await import('../lab/demo/run-podman-demo.js');
        process.exitCode = await runPodmanDemo(demo, found.tools);
        return;
      }
      const { runDemo } = await import('../lab/demo/run-demo.js');
      process.exitCode = await runDemo(demo);
    });
}

export function buildProgram(): Command {
  const program = new Command('tulle')
    .description('a userspace overlay network')
    .version(`tulle ${packageVersion()}`, '-V, --version', 'print the version')
    .showHelpAfterError()
    // Usage errors exit 2 (as invalid configuration does), help and version 0: main.ts catches them.
    .exitOverride();

  program
    .command('version')
    .description('print the version')
    .action(() => console.log(`tulle ${packageVersion()}`));

  registerRun(program);
  registerDaemonCommands(program);
  registerConfig(program);
  registerBench(program);
  registerCni(program);
  registerInstallService(program);
  registerCompletion(program);

  registerDemo(program, 'demo', 'tulle demo');

  const lab = program.command('lab').description('lab namespaces');
  registerDemo(lab, 'demo', 'tulle lab demo');
  lab
    .command('wire-demo')
    .description('show tulle encapsulation working against a kernel vxlan device, in a namespace of its own (needs root)')
    .option('--inside-namespace', 'internal: the part that runs inside the lab namespace')
    .action(async (options: { insideNamespace?: boolean }) => {
      const { insideWireDemo, runWireDemo } = await import('../lab/wire-demo.js');
      if (options.insideNamespace) return insideWireDemo();
      requireRoot('tulle lab wire-demo', 'creates a network namespace and a TUN device');
      requireAddon();
      runWireDemo();
    });
  lab
    .command('down')
    .description("end the processes in tulle lab namespaces (and a podman demo's containers), remove the namespaces and a kept demo's state dirs")
    .option('--prefix <prefix>', 'only the namespaces and state dirs that start with this (one lab, e.g. tulle-3fa2c1-)')
    .action(async (options: { prefix?: string }) => {
      requireRoot('tulle lab down', 'ends processes in network namespaces and removes them');
      if (options.prefix !== undefined && !options.prefix.startsWith('tulle-')) {
        console.error(`tulle lab down: --prefix must start with "tulle-" (tulle's namespaces do), got "${options.prefix}"`);
        process.exit(EXIT.INVALID);
      }
      const { labDown } = await import('../lab/lab-down.js');
      const r = await labDown(options.prefix);
      if (r.ended.length > 0) console.log(`ended ${r.ended.length} process(es)${r.killed > 0 ? ` (${r.killed} needed SIGKILL)` : ''}`);
      if (r.cgroups.length > 0) console.log(`killed ${r.containerPids.length} podman container process(es); removed cgroups ${r.cgroups.join(', ')}`);
      if (r.dirs.length > 0) console.log(`removed ${r.dirs.join(', ')}`);
      console.log(r.namespaces.length === 0 ? 'no tulle namespaces' : `removed ${r.namespaces.join(', ')}`);
    });
  return program;
}
