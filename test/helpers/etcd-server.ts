// A real etcd (Debian's etcd-server) for tests: its own temporary data dir and
// free loopback ports, never the system service. It can be killed, restarted
// on the same data dir and ports, paused (SIGSTOP) and resumed. It is ended by
// its PID and its folder removed when the test ends, and on process exit and
// SIGINT/SIGTERM/SIGHUP.
//
// With TLS options it serves https:// only, with the server certificate given
// and (clientCertAuth) etcd's --client-cert-auth; the helper's own health
// checks and etcdctl then use the client certificate it is given.
//
// LinkCut is a TCP relay between a client and etcd whose link can be cut and
// restored: etcd keeps running (and other clients keep writing) while one
// client is cut off.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<EtcdServer>();
let hooked = false;

function hookProcess(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const s of live) s.disposeSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const s of live) s.disposeSync();
      process.kill(process.pid, signal);
    });
  }
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; released before etcd binds it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** etcd 3.4 runs only on amd64 and ppc64le unless ETCD_UNSUPPORTED_ARCH names the (Go) architecture. */
export function unsupportedArchEnv(): Record<string, string> {
  const goArch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
  };
  const arch = goArch[process.arch] ?? process.arch;
  return arch === 'amd64' || arch === 'ppc64le' ? {} : { ETCD_UNSUPPORTED_ARCH: arch };
}

export function haveEtcd(): boolean {
  return (
    spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0 &&
    spawnSync('etcdctl', ['version'], { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } }).status === 0
  );
}

export interface EtcdTls {
  /** The server's certificate and key. */
  cert: string;
  key: string;
  /** The CA that client certificates must be signed by, and that signed `cert` (for the helper's own calls). */
  ca: string;
  /** etcd's --client-cert-auth: every client must show a certificate signed by `ca`. */
  clientCertAuth: boolean;
  /** A client certificate and key for the helper's health checks and etcdctl. */
  client: { cert: string; key: string };
  /** The helper's health check does not check the server certificate's name (to start one with a wrong name). */
  skipNameCheck?: boolean;
}

export interface EtcdServerOptions {
  tls?: EtcdTls;
}

export class EtcdServer {
  /** etcdctl's --user (name:password) once etcd authentication is turned on. */
  etcdctlUser: string | undefined;
  readonly endpoint: string;
  readonly dataDir: string;
  readonly #root: string;
  readonly #logFile: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  private constructor(
    root: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly tls?: EtcdTls,
  ) {
    this.#root = root;
    this.dataDir = join(root, 'data');
    this.#logFile = join(root, 'etcd.log');
    this.endpoint = `${tls !== undefined ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
    live.add(this);
    hookProcess();
  }

  /** Starts a fresh single-member etcd; retries with other ports if one was taken meanwhile. */
  static async start(options: EtcdServerOptions = {}): Promise<EtcdServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const root = mkdtempSync(join(tmpdir(), 'tulle-etcd-'));
      const server = new EtcdServer(root, await freePort(), await freePort(), options.tls);
      try {
        await server.restart();
        return server;
      } catch (error) {
        lastError = error;
        await server.dispose();
      }
    }
    throw lastError;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** (Re)starts etcd on the same data dir and ports, and waits until it is healthy. */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error('etcd is already running');
    mkdirSync(this.dataDir, { recursive: true });
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const log = openSync(this.#logFile, 'a');
    const child = spawn(
      'etcd',
      [
        '--name',
        'test',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        this.endpoint,
        '--advertise-client-urls',
        this.endpoint,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `test=${peer}`,
        '--initial-cluster-state',
        'new',
        '--logger',
        'zap',
        '--log-level',
        'warn',
        ...(this.tls !== undefined
          ? [
              '--cert-file',
              this.tls.cert,
              '--key-file',
              this.tls.key,
              '--trusted-ca-file',
              this.tls.ca,
              ...(this.tls.clientCertAuth ? ['--client-cert-auth'] : []),
            ]
          : []),
      ],
      { stdio: ['ignore', log, log], env: { ...process.env, ...unsupportedArchEnv() } },
    );
    closeSync(log);
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.#exited.then(() => {
      if (this.#child === child) this.#child = undefined;
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (this.#child !== child) throw new Error(`etcd exited at start-up:\n${this.logTail()}`);
      try {
        if (await this.#healthy()) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd not healthy after 15 s:\n${this.logTail()}`);
  }

  async #healthy(): Promise<boolean> {
    if (this.tls === undefined) {
      const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    }
    const tls = this.tls;
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${this.endpoint}/health`,
        {
          ca: readFileSync(tls.ca),
          cert: readFileSync(tls.client.cert),
          key: readFileSync(tls.client.key),
          timeout: 1000,
          ...(tls.skipNameCheck === true ? { checkServerIdentity: () => undefined } : {}),
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
    return (JSON.parse(body) as { health?: string }).health === 'true';
  }

  /** Ends etcd by its PID (SIGKILL: as if the host died) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child?.pid === undefined) return;
    process.kill(child.pid, 'SIGCONT'); // a paused etcd must run to die of SIGTERM
    process.kill(child.pid, signal);
    await this.#exited;
    this.#child = undefined;
  }

  /** SIGSTOP: etcd keeps its sockets open but answers nothing. */
  pause(): void {
    if (this.#child?.pid !== undefined) process.kill(this.#child.pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.#child?.pid !== undefined) process.kill(this.#child.pid, 'SIGCONT');
  }

  /** Runs etcdctl (API v3) against this server; throws with its stderr when it fails. */
  etcdctl(...args: string[]): string {
    const tls = this.tls !== undefined ? ['--cacert', this.tls.ca, '--cert', this.tls.client.cert, '--key', this.tls.client.key] : [];
    const user = this.etcdctlUser !== undefined ? ['--user', this.etcdctlUser] : [];
    const r = spawnSync('etcdctl', ['--endpoints', this.endpoint, ...tls, ...user, ...args], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
    return r.stdout;
  }

  logTail(): string {
    try {
      return readFileSync(this.#logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async dispose(): Promise<void> {
    await this.kill();
    this.disposeSync();
  }

  /** For exit paths: SIGKILL by PID and remove the folder, synchronously. */
  disposeSync(): void {
    const pid = this.#child?.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.#root, { recursive: true, force: true });
    live.delete(this);
  }
}

/** A TCP relay on a free loopback port to `target`, whose link can be cut and restored. */
export class LinkCut {
  readonly #sockets = new Set<Socket>();
  #cut = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async open(targetPort: number): Promise<LinkCut> {
    let relay: LinkCut | undefined;
    const server = createServer((client) => {
      if (relay === undefined || relay.#cut) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      const pair = [client, upstream];
      for (const s of pair) {
        relay.#sockets.add(s);
        s.on('error', () => pair.forEach((p) => p.destroy()));
        s.on('close', () => {
          relay!.#sockets.delete(s);
          pair.forEach((p) => p.destroy());
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    relay = new LinkCut(server, (server.address() as { port: number }).port);
    return relay;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Drops every connection and refuses new ones until restore(). */
  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
  }

  restore(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
