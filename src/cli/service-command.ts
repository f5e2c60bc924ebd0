/**
 * `tulle install-service`: writes tulle's systemd unit (service-unit.ts),
 * starting this very tulle (the standalone binary, or node and the CLI) with the given configuration file. It refuses to
 * replace a different unit without --force, and leaves `systemctl` to the
 * operator.
 */
import { Option, type Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { tulleCommand } from '../util/self-command.js';
import { writeFileAtomic } from '../util/write-file.js';
import { EXIT } from './exit-codes.js';
import { requireRoot } from './require-root.js';
import { DEFAULT_CONFIG_PATH, DEFAULT_UNIT_PATH, serviceUnit } from './service-unit.js';

interface Options {
  config: string;
  unit: string;
  force?: boolean;
  print?: boolean;
}

export function registerInstallService(program: Command): void {
  program
    .command('install-service')
    .description('write a systemd unit that runs this tulle (Type=notify, reload by SIGHUP); refuses to replace a different unit (needs root)')
    .addOption(new Option('-c, --config <file>', 'the configuration file the unit runs with').default(DEFAULT_CONFIG_PATH))
    .addOption(new Option('--unit <file>', 'where to write the unit').default(DEFAULT_UNIT_PATH))
    .option('--force', 'replace a unit that differs')
    .option('--print', 'print the unit instead of writing it')
    .action((options: Options) => {
      const unit = serviceUnit(tulleCommand([]), resolve(options.config));
      if (options.print) {
        process.stdout.write(unit);
        return;
      }
      requireRoot('tulle install-service', 'writes a systemd unit');
      const existing = existsSync(options.unit) ? readFileSync(options.unit, 'utf8') : undefined;
      if (existing === unit) {
        console.log(`${options.unit} is already this unit; nothing changed`);
        return;
      }
      if (existing !== undefined && !options.force) {
        console.error(`tulle install-service: ${options.unit} exists and differs (compare with \`tulle install-service --print\`); --force replaces it`);
        process.exit(EXIT.FAILURE);
      }
      writeFileAtomic(options.unit, unit);
      console.log(`${existing === undefined ? 'wrote' : 'replaced'} ${options.unit}`);
      if (!existsSync(options.config)) console.log(`note: ${resolve(options.config)} does not exist yet; \`tulle config check\` it once written`);
      console.log('then: systemctl daemon-reload && systemctl enable --now tulle');
    });
}
