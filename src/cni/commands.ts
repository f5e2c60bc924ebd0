/**
 * ADD, DEL and CHECK: subnet.env read, the bridge delegate configured from it
 * and recorded, the delegate run. An ADD that fails undoes what it did (the
 * delegate's DEL releases the address and removes the interface) so nothing
 * is left half-configured.
 */
import { loadAttachment, removeAttachment, saveAttachment, type Attachment } from './attachments.js';
import type { CniEnv } from './cni-env.js';
import { delegateConf } from './delegate-conf.js';
import { CNI_CODE, CniError } from './errors.js';
import { execPlugin } from './exec-plugin.js';
import type { JsonObject, NetConf } from './net-conf.js';
import { readHostSubnet } from './read-host-subnet.js';
import { CHECK_SINCE, compareVersions } from './versions.js';

/** The delegate configuration for this call: the recorded one with this call's version and prevResult. */
function forCall(recorded: JsonObject, conf: NetConf): JsonObject {
  const d: JsonObject = { ...recorded, cniVersion: conf.cniVersion };
  delete d.prevResult;
  if (conf.prevResult !== undefined) d.prevResult = conf.prevResult;
  return d;
}

export async function add(conf: NetConf, env: CniEnv): Promise<JsonObject> {
  const host = await readHostSubnet(conf.subnetFile, conf.subnetFileWaitSeconds);
  const delegate = delegateConf(conf, host);
  // An ADD for an attachment already recorded (a second ADD, or one after a reboot without DEL) must not undo
  // the first one when it fails: then the record goes back as it was, for the runtime's DEL.
  const prior = priorAttachment(conf, env);
  // Recorded before the delegate runs: a plugin killed half-way still leaves DEL what it needs.
  saveAttachment(conf.dataDir, { containerId: env.containerId, ifname: env.ifname, delegate });
  try {
    const result = execPlugin('ADD', delegate, env);
    if (result === undefined) throw new CniError(CNI_CODE.DELEGATE_FAILED, `${String(delegate.type)} ADD printed no result`);
    return result;
  } catch (error) {
    if (prior !== undefined) saveAttachment(conf.dataDir, prior);
    else undo(conf, env, delegate);
    throw error;
  }
}

function priorAttachment(conf: NetConf, env: CniEnv): Attachment | undefined {
  try {
    return loadAttachment(conf.dataDir, env.containerId, env.ifname);
  } catch {
    // An unreadable record is replaced: ADD's record is the one that counts.
    return undefined;
  }
}

/** A failed ADD's clean-up: the delegate's DEL releases the address and removes the interface if they were made. */
function undo(conf: NetConf, env: CniEnv, delegate: JsonObject): void {
  try {
    execPlugin('DEL', delegate, env);
    removeAttachment(conf.dataDir, env.containerId, env.ifname);
  } catch {
    // The record stays, so the runtime's DEL can finish the clean-up.
  }
}

/**
 * Releases what ADD set up. Without a record (ADD never ran, or DEL ran
 * already) there is nothing of ours to release, and DEL must succeed: the
 * spec asks DEL to be idempotent.
 */
export function del(conf: NetConf, env: CniEnv): void {
  const recorded = loadAttachment(conf.dataDir, env.containerId, env.ifname);
  if (recorded === undefined) return;
  execPlugin('DEL', forCall(recorded.delegate, conf), env);
  removeAttachment(conf.dataDir, env.containerId, env.ifname);
}

/** The delegate's CHECK (bridge checks the interface, addresses and routes; host-local the lease), and the subnet still tulle's. */
export async function check(conf: NetConf, env: CniEnv): Promise<void> {
  if (compareVersions(conf.cniVersion, CHECK_SINCE) < 0) {
    throw new CniError(CNI_CODE.INCOMPATIBLE_VERSION, `CHECK needs cniVersion ${CHECK_SINCE} or later`, `the network configuration says ${conf.cniVersion}`);
  }
  if (conf.prevResult === undefined) {
    throw new CniError(CNI_CODE.INVALID_NETWORK_CONFIG, 'CHECK needs prevResult', "the runtime must pass ADD's result as prevResult");
  }
  const recorded = loadAttachment(conf.dataDir, env.containerId, env.ifname);
  if (recorded === undefined) {
    throw new CniError(CNI_CODE.UNKNOWN_CONTAINER, `no attachment of container ${env.containerId} (${env.ifname})`, `ADD recorded none in ${conf.dataDir}`);
  }
  const host = await readHostSubnet(conf.subnetFile, 0);
  const ranges = ((recorded.delegate.ipam as JsonObject | undefined)?.ranges as { subnet?: string }[][] | undefined) ?? [];
  const subnet = ranges[0]?.[0]?.subnet;
  if (subnet !== host.subnet) {
    throw new CniError(
      CNI_CODE.INVALID_NETWORK_CONFIG,
      `container ${env.containerId} has an address in ${subnet ?? 'no subnet'}, but this host's subnet is now ${host.subnet}`,
      `${conf.subnetFile} changed since ADD: the container must be restarted to get an address in the new subnet`,
    );
  }
  execPlugin('CHECK', forCall(recorded.delegate, conf), env);
}
