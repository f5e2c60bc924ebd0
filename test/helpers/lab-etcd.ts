// A real etcd (Debian's etcd-server) on a lab host's underlay address, for
// daemons in other lab namespaces: started, killed and started again on the
// same data dir; etcdctl against it. The lab ends it with its namespace.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../../src/lab/netns.js';
import type { Host } from '../../src/lab/topology.js';
import { unsupportedArchEnv } from './etcd-server.js';

export class LabEtcd {
  readonly endpoint: string;
  #child: ChildProcess | undefined;

  constructor(
    private readonly lab: Lab,
    private readonly host: Host,
    private readonly dataDir: string,
  ) {
    this.endpoint = `http://${host.underlay}:2379`;
  }

  /** Starts etcd and resolves once it answers. */
  async start(): Promise<void> {
    const env = Object.entries(unsupportedArchEnv()).map(([k, v]) => `${k}=${v}`);
    this.#child = this.lab.spawn(this.host.ns, [
      'env',
      ...env,
      'etcd',
      '--name',
      'lab',
      '--data-dir',
      join(this.dataDir, 'etcd'),
      '--listen-client-urls',
      this.endpoint,
      '--advertise-client-urls',
      this.endpoint,
      '--listen-peer-urls',
      'http://127.0.0.1:2380',
      '--initial-advertise-peer-urls',
      'http://127.0.0.1:2380',
      '--initial-cluster',
      'lab=http://127.0.0.1:2380',
      '--log-level',
      'warn',
    ]);
    for (let i = 0; i < 100; i++) {
      try {
        this.etcdctl('--command-timeout', '1s', 'get', 'health-probe'); // answers once etcd serves
        return;
      } catch {
        await sleep(200);
      }
    }
    throw new Error(`etcd on ${this.endpoint} did not become healthy`);
  }

  /** Ends it with `signal` and resolves once it has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  etcdctl(...args: string[]): string {
    return this.lab.exec(this.host.ns, ['env', 'ETCDCTL_API=3', 'etcdctl', '--endpoints', this.endpoint, ...args]);
  }

  /** flannel's network config, as its docs tell an operator to write it. */
  putNetwork(backend: 'udp' | 'vxlan' | 'host-gw'): void {
    this.etcdctl('put', '/coreos.com/network/config', `{"Network":"198.18.0.0/16","SubnetLen":24,"Backend":{"Type":"${backend}"}}`);
  }
}
