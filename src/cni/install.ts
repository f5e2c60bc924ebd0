/**
 * `tulle cni install`: a conflist for a network whose plugin is tulle's, and
 * the plugin itself in a CNI plugin folder (a two-line script that runs the
 * plugin with the Node.js tulle is installed with, or the standalone binary
 * as `tulle __cni`). A different conflist
 * already there is not replaced without `force`: it may be someone's own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { standalone } from '../util/embedded.js';
import { shellQuote } from '../util/shell-quote.js';
import { writeFileAtomic } from '../util/write-file.js';
import { DEFAULT_DATA_DIR, DEFAULT_SUBNET_FILE } from './net-conf.js';
import { LATEST_VERSION } from './versions.js';

/** The plugin's file name in the plugin folder, and the `type` conflists name it by. */
export const PLUGIN_TYPE = 'tulle';
const MARK = '# tulle CNI plugin, placed by `tulle cni install`';

/** The standalone binary runs the plugin when its first argument is this (src/standalone/main.ts). */
export const STANDALONE_CNI_ARG = '__cni';

export interface InstallOptions {
  confDir: string;
  binDir: string;
  /** The network's name (podman --network NAME); the conflist is <confDir>/10-<name>.conflist. */
  name: string;
  subnetFile: string;
  dataDir: string;
  force: boolean;
}

export const INSTALL_DEFAULTS = {
  confDir: '/etc/cni/net.d',
  binDir: '/opt/cni/bin',
  name: 'tulle',
  subnetFile: DEFAULT_SUBNET_FILE,
  dataDir: DEFAULT_DATA_DIR,
} as const;

export class InstallConflict extends Error {
  constructor(readonly file: string) {
    super(`${file} exists and differs from what tulle would write: not replaced (--force replaces it)`);
    this.name = 'InstallConflict';
  }
}

/** Network names as libcni accepts them. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function checkNetworkName(name: string): void {
  if (!NETWORK_NAME.test(name)) throw new Error(`--name "${name}" is not a network name: letters, digits, ".", "_" and "-", starting with a letter or digit`);
}

/** flannel's conflist for Kubernetes (hairpin mode, the bridge as default gateway) with tulle as the plugin. */
export function conflistText(o: Pick<InstallOptions, 'name' | 'subnetFile' | 'dataDir'>): string {
  const conflist = {
    cniVersion: LATEST_VERSION,
    name: o.name,
    plugins: [{ type: PLUGIN_TYPE, subnetFile: o.subnetFile, dataDir: o.dataDir, delegate: { hairpinMode: true, isDefaultGateway: true } }],
  };
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

export function pluginScript(command: readonly string[]): string {
  return ['#!/bin/sh', MARK, `exec ${command.map(shellQuote).join(' ')} "$@"`, ''].join('\n');
}

/** What runs the plugin: the standalone binary itself, or this Node with the compiled plugin. */
function pluginCommand(): string[] {
  if (standalone() !== undefined) return [process.execPath, STANDALONE_CNI_ARG];
  return [process.execPath, fileURLToPath(new URL('./main.js', import.meta.url))];
}

function current(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export interface Installed {
  conflist: string;
  plugin: string;
  /** Files already as tulle would write them. */
  unchanged: string[];
}

export function installCni(o: InstallOptions): Installed {
  checkNetworkName(o.name);
  const conflist = join(o.confDir, `10-${o.name}.conflist`);
  const plugin = join(o.binDir, PLUGIN_TYPE);
  const wanted = [
    { file: conflist, text: conflistText(o), mode: 0o644 },
    { file: plugin, text: pluginScript(pluginCommand()), mode: 0o755 },
  ];
  const unchanged: string[] = [];
  // Every conflict found before anything is written: a refused install changes nothing.
  for (const w of wanted) {
    const now = current(w.file);
    if (now === w.text) unchanged.push(w.file);
    // An earlier tulle's plugin script is tulle's to replace; anything else is not.
    else if (now !== undefined && !o.force && !(w.file === plugin && now.includes(MARK))) throw new InstallConflict(w.file);
  }
  for (const w of wanted) if (!unchanged.includes(w.file)) writeFileAtomic(w.file, w.text, w.mode);
  return { conflist, plugin, unchanged };
}
