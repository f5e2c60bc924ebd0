// A real etcd (Debian's etcd-server) on a lab host's underlay address, for
// daemons in other lab namespaces: started, killed and started again on the
// same data dir; etcdctl against it. The lab ends it with its namespace.
// With `tls` it serves https:// only, with --client-cert-auth, and etcdctl
// uses the client certificate given.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../../src/lab/netns.js';
import type { Host } from '../../src/lab/topology.js';
import { unsupportedArchEnv } from './etcd-server.js';

export interface LabEtcdTls {
  /** Server certificate (for the host's underlay address) and key, the CA of clients, and a client certificate for etcdctl. */
  cert: string;
  key: string;
  ca: string;
  client: { cert: string; key: string };
}

export class LabEtcd {
  readonly endpoint: string;
  #child: ChildProcess | undefined;

  constructor(
    private readonly lab: Lab,
    private readonly host: Host,
    private readonly dataDir: string,
    private readonly tls?: LabEtcdTls,
  ) {
    this.endpoint = `${tls !== undefined ? 'https' : 'http'}://${host.underlay}:2379`;
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
      ...(this.tls !== undefined ? ['--cert-file', this.tls.cert, '--key-file', this.tls.key, '--trusted-ca-file', this.tls.ca, '--client-cert-auth'] : []),
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
    const tls = this.tls !== undefined ? ['--cacert', this.tls.ca, '--cert', this.tls.client.cert, '--key', this.tls.client.key] : [];
    return this.lab.exec(this.host.ns, ['env', 'ETCDCTL_API=3', 'etcdctl', '--endpoints', this.endpoint, ...tls, ...args]);
  }

  /** flannel's network config, as its docs tell an operator to write it. */
  putNetwork(backend: 'udp' | 'vxlan' | 'host-gw'): void {
    this.etcdctl('put', '/coreos.com/network/config', `{"Network":"198.18.0.0/16","SubnetLen":24,"Backend":{"Type":"${backend}"}}`);
  }
}
