/**
 * SIGHUP: what changes without a restart, changed. The configuration is read
 * again from the same file, variables and flags; its log level takes effect
 * at once, and so do the static peers (added peers get routes, removed ones
 * lose them, unchanged ones are not touched: their traffic flows on). Any
 * other key that differs is named as needing a restart (the lease, the
 * device and the sockets are not swapped under traffic). A gossip store's
 * keyring file is read again, so keys rotate without a restart, and so are
 * an etcd store's certificates and password file. Then what the
 * daemon keeps on the host is put back (host-outputs.ts). A configuration
 * that no longer loads is reported and the running one kept. systemd hears
 * RELOADING=1 before and READY=1 after (systemd-notify.ts).
 */
import type { Logger } from 'pino';
import type { PeerChanges } from '../lease/static-store.js';
import type { DaemonConfig } from './config/schema.js';
import type { HostOutputs } from './host-outputs.js';
import type { StorePeers } from './store-hooks.js';
import type { SystemdNotifier } from './systemd-notify.js';

export interface ReloadSpec {
  log: Logger;
  /** The configuration as loaded at start, before the daemon filled anything in. */
  initial: DaemonConfig;
  /** Loads the configuration again from the sources `tulle run` was given. */
  reread?: () => Promise<DaemonConfig>;
  host: HostOutputs;
  /** The static store, whose peers are the configuration's; absent for gossip and etcd. */
  peers?: StorePeers;
  /** The store's own reload (gossip: the keyring file; etcd: its certificates and password file); says what it did, throws when it cannot. */
  store?: () => string | Promise<string>;
  notify?: SystemdNotifier;
  /** The line systemd shows once the reload is done. */
  readyStatus?: () => string;
  /** False once the daemon is stopping: then the host is left to the teardown. */
  running: () => boolean;
}

export async function reload(spec: ReloadSpec): Promise<void> {
  spec.notify?.reloading();
  try {
    await reloadSteps(spec);
  } finally {
    // Also after a refused configuration: the daemon runs on as it was, ready.
    if (spec.running()) spec.notify?.ready(spec.readyStatus?.() ?? 'running');
  }
}

async function reloadSteps(spec: ReloadSpec): Promise<void> {
  const { log } = spec;
  const done: string[] = [];
  let next: DaemonConfig | undefined;
  if (spec.reread !== undefined) {
    try {
      next = await spec.reread();
    } catch (error) {
      const message = (error as Error).message;
      log.error({ event: 'reload refused', error: message }, `SIGHUP: the configuration does not load, the running one stays: ${message}`);
    }
  }
  if (!spec.running()) {
    log.info({ event: 'ignored', signal: 'SIGHUP', why: 'stopping' }, 'SIGHUP: the daemon is stopping, the host is left to the teardown');
    return;
  }
  if (next !== undefined) {
    done.push(next.logLevel === log.level ? `log level ${log.level} (unchanged)` : `log level ${next.logLevel} (was ${log.level})`);
    log.level = next.logLevel;
    if (spec.peers !== undefined) done.push(reloadPeers(spec.peers, next, log));
    const keys = changedKeys(spec.initial, next, spec.peers !== undefined ? ['logLevel', 'peers'] : ['logLevel']);
    if (keys.length > 0) {
      log.warn(
        { event: 'restart needed', keys },
        `SIGHUP: ${keys.join(', ')} changed in the configuration: ${keys.length === 1 ? 'it takes' : 'they take'} effect at the next start`,
      );
    }
  }
  if (spec.store !== undefined) {
    try {
      done.push(await spec.store());
    } catch (error) {
      const message = (error as Error).message;
      log.error({ event: 'reload refused', error: message }, `SIGHUP: the store's keys and credentials stay as they were: ${message}`);
    }
  }
  done.push(...spec.host.restore());
  log.info({ event: 'reloaded', done }, `SIGHUP: reloaded: ${done.join('; ')}`);
}

/** Hands the file's peers to the store; says what changed (a refused list changes nothing). */
function reloadPeers(store: StorePeers, next: DaemonConfig, log: Logger): string {
  let changes: PeerChanges;
  try {
    changes = store.setPeers(next.peers);
  } catch (error) {
    const message = (error as Error).message;
    log.error({ event: 'peers refused', error: message }, `SIGHUP: the peers stay as they were: ${message}`);
    return 'peers unchanged (refused)';
  }
  const { added, removed, changed } = changes;
  if (added.length + removed.length + changed.length === 0) return `peers unchanged (${next.peers.length})`;
  log.info({ event: 'peers reloaded', added, removed, changed }, `SIGHUP: peers: ${describePeerChanges(changes)}`);
  return `peers ${describePeerChanges(changes)}`;
}

export function describePeerChanges({ added, removed, changed }: PeerChanges): string {
  const parts = [
    added.length > 0 ? `added ${added.join(', ')}` : '',
    removed.length > 0 ? `removed ${removed.join(', ')}` : '',
    changed.length > 0 ? `changed ${changed.join(', ')}` : '',
  ];
  return parts.filter(Boolean).join('; ');
}

/** Top-level keys whose values differ, those in `live` (applied by the reload) aside. */
export function changedKeys(before: DaemonConfig, after: DaemonConfig, live: readonly string[] = ['logLevel']): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of live) keys.delete(key);
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}
