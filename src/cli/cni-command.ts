/** `tulle cni install`: tulle as a CNI plugin for container runtimes (src/cni, docs/cni.md). */
import type { Command } from 'commander';
import { checkNetworkName, INSTALL_DEFAULTS, installCni } from '../cni/install.js';
import { EXIT } from './exit-codes.js';

interface InstallFlags {
  confDir: string;
  binDir: string;
  name: string;
  subnetFile: string;
  dataDir: string;
  force?: boolean;
}

export function registerCni(program: Command): void {
  const cni = program.command('cni').description('container networking: tulle as a CNI plugin (podman, Kubernetes)');
  cni
    .command('install')
    .description("write a conflist for a network on this host's tulle subnet and place the tulle CNI plugin")
    .option('--conf-dir <dir>', 'where the conflist goes (10-<name>.conflist)', INSTALL_DEFAULTS.confDir)
    .option('--bin-dir <dir>', 'the CNI plugin folder the plugin goes in (as "tulle")', INSTALL_DEFAULTS.binDir)
    .option('--name <name>', 'the network name (podman run --network NAME)', INSTALL_DEFAULTS.name)
    .option('--subnet-file <file>', "where tulle writes subnet.env (tulle run's --subnet-file)", INSTALL_DEFAULTS.subnetFile)
    .option('--data-dir <dir>', 'where the plugin keeps what DEL needs per container', INSTALL_DEFAULTS.dataDir)
    .option('--force', 'replace a different conflist or plugin file already there')
    .action((flags: InstallFlags) => {
      try {
        checkNetworkName(flags.name);
      } catch (error) {
        console.error(`tulle cni install: ${(error as Error).message}`);
        process.exit(EXIT.INVALID);
      }
      try {
        const r = installCni({ ...flags, force: flags.force === true });
        for (const file of [r.conflist, r.plugin]) console.log(`${r.unchanged.includes(file) ? 'unchanged' : 'wrote'} ${file}`);
        console.log(`network "${flags.name}": podman run --network ${flags.name} … (tulle must be running: it writes ${flags.subnetFile})`);
      } catch (error) {
        // A conflicting file or a folder that cannot be written: nothing was replaced.
        console.error(`tulle cni install: ${(error as Error).message}`);
        process.exit(EXIT.FAILURE);
      }
    });
}
