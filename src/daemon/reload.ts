/**
 * SIGHUP: what changes without a restart, changed. The configuration is read
 * again from the same file, variables and flags; its log level takes effect
 * at once, and any other key that differs is named as needing a restart
 * (the lease, the device and the sockets are not swapped under traffic).
 * A gossip store's keyring file is read again, so keys rotate without a restart.
 * Then what the daemon keeps on the host is put back (host-outputs.ts). A
 * configuration that no longer loads is reported and the running one kept.
 */
import type { Logger } from 'pino';
import type { DaemonConfig } from './config/schema.js';
import type { HostOutputs } from './host-outputs.js';

export interface ReloadSpec {
  log: Logger;
  /** The configuration as loaded at start, before the daemon filled anything in. */
  initial: DaemonConfig;
  /** Loads the configuration again from the sources `tulle run` was given. */
  reread?: () => Promise<DaemonConfig>;
  host: HostOutputs;
  /** The store's own reload (gossip: the keyring file); says what it did, throws when it cannot. */
  store?: () => string;
  /** False once the daemon is stopping: then the host is left to the teardown. */
  running: () => boolean;
}

export async function reload(spec: ReloadSpec): Promise<void> {
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
  if (next !== undefined) {
    done.push(next.logLevel === log.level ? `log level ${log.level} (unchanged)` : `log level ${next.logLevel} (was ${log.level})`);
    log.level = next.logLevel;
    const keys = changedKeys(spec.initial, next);
    if (keys.length > 0) {
      log.warn(
        { event: 'restart needed', keys },
        `SIGHUP: ${keys.join(', ')} changed in the configuration: ${keys.length === 1 ? 'it takes' : 'they take'} effect at the next start`,
      );
    }
  }
  if (!spec.running()) {
    log.info({ event: 'ignored', signal: 'SIGHUP', why: 'stopping' }, 'SIGHUP: the daemon is stopping, the host is left to the teardown');
    return;
  }
  if (spec.store !== undefined) {
    try {
      done.push(spec.store());
    } catch (error) {
      const message = (error as Error).message;
      log.error({ event: 'reload refused', error: message }, `SIGHUP: the store's keys stay as they were: ${message}`);
    }
  }
  done.push(...spec.host.restore());
  log.info({ event: 'reloaded', done }, `SIGHUP: reloaded: ${done.join('; ')}`);
}

/** Top-level keys whose values differ, logLevel aside. */
export function changedKeys(before: DaemonConfig, after: DaemonConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  keys.delete('logLevel');
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}
