/**
 * What the daemon keeps on the host for others to use once it has its lease:
 * the masquerade table (ipMasq), flannel's subnet.env and the Docker options.
 * Put in place at start, put back on SIGHUP (someone may have flushed the
 * ruleset or removed a file), and the table removed at stop.
 */
import type { Logger } from 'pino';
import { hasMasquerade, installMasquerade, removeMasquerade, TABLE } from './masquerade.js';
import { dockerOpts, subnetEnv, type HostLease } from './subnet-env.js';
import type { Teardown } from './teardown.js';
import { writeFileAtomic } from '../util/write-file.js';

export interface HostOutputsSpec {
  lease: HostLease;
  subnetFile: string;
  dockerOptsFile?: string;
}

export class HostOutputs {
  constructor(private readonly spec: HostOutputsSpec) {}

  /** Start-up: everything in place, the table's removal recorded in the teardown. */
  apply(log: Logger, teardown: Teardown): void {
    const { lease } = this.spec;
    if (lease.ipMasq) {
      installMasquerade(lease.network, lease.subnet);
      teardown.push('removing the masquerade table', () => removeMasquerade());
      log.info({ event: 'masquerade on', table: `ip ${TABLE}` }, `masquerading traffic leaving ${lease.network} (nftables table ip ${TABLE})`);
    }
    this.#writeFiles();
  }

  /** SIGHUP: everything put back as at start; says what was missing. */
  restore(): string[] {
    const { lease } = this.spec;
    const done: string[] = [];
    if (lease.ipMasq) {
      const present = hasMasquerade();
      installMasquerade(lease.network, lease.subnet);
      done.push(`masquerade table ip ${TABLE} ${present ? 're-applied' : 'restored (it was missing)'}`);
    }
    this.#writeFiles();
    done.push(`${this.spec.dockerOptsFile !== undefined ? 'subnet.env and Docker options' : 'subnet.env'} rewritten`);
    return done;
  }

  #writeFiles(): void {
    writeFileAtomic(this.spec.subnetFile, subnetEnv(this.spec.lease));
    if (this.spec.dockerOptsFile !== undefined) writeFileAtomic(this.spec.dockerOptsFile, dockerOpts(this.spec.lease));
  }
}
