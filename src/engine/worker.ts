/**
 * A data-plane thread: TX (TUN → UDP) or RX (UDP → TUN). Each is a tight
 * loop around synchronous native calls that block for at most `pollMs`, so
 * the stop flag is seen within that time. The loop allocates nothing: the
 * slab, descriptors and address table are made once, here.
 *
 * Pipeline per batch:
 *   TX: 1 tunReadBatch → 2 refresh routes → 3 decideTx → 4 encapBatch → 5 udpSendBatch → 6 count
 *   RX: 1 udpRecvBatch → 2 refresh routes → 3 decideRx → 4 tunWriteBatch → 5 count
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadNative } from '../native/load.js';
import * as wire from '../wire/index.js';
import { C } from './counters.js';
import { decideRx, decideTx } from './decide.js';
import { ADDR_STRIDE, RouteReader, RouteSnapshot } from './routes.js';
import { VERDICT_ENCAP_FAILED, VERDICT_SEND_FAILED, VERDICT_WRITE_FAILED } from './verdicts.js';

export interface WorkerConfig {
  role: 'tx' | 'rx';
  tunFd: number;
  udpFd: number;
  control: SharedArrayBuffer; // Int32 [0] = stop flag
  counters: SharedArrayBuffer;
  routes: ReturnType<typeof RouteSnapshot.allocate>;
  batch: number;
  headroom: number;
  stride: number;
  pollMs: number;
  mtu: number;
  backend: 'udp' | 'vxlan';
  vni: number;
  subnet: number;
  subnetMask: number;
}

const config = workerData as WorkerConfig;
const native = loadNative();
const control = new Int32Array(config.control);
const counters = new Float64Array(config.counters);
const snapshot = new RouteSnapshot(config.routes);
const routes = new RouteReader(snapshot);
const slab = new Uint8Array(config.batch * config.stride);
const desc = new Int32Array(config.batch * wire.DESC_STRIDE);
const srcAddrs = new Uint8Array(config.batch * ADDR_STRIDE);
const { DESC_STRIDE, DESC_VERDICT, DESC_LENGTH, DESC_OUT_LENGTH } = wire;

function countTx(count: number): void {
  let packets = 0;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const v = desc[i * DESC_STRIDE + DESC_VERDICT];
    if (v >= 0) {
      packets++;
      bytes += desc[i * DESC_STRIDE + DESC_OUT_LENGTH];
    } else if (v === VERDICT_SEND_FAILED) counters[C.sendErrors]++;
    else if (v === VERDICT_ENCAP_FAILED) counters[C.encapErrors]++;
  }
  counters[C.txPackets] += packets;
  counters[C.txBytes] += bytes;
  counters[C.txBatches]++;
}

function countRx(count: number): void {
  let packets = 0;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const v = desc[i * DESC_STRIDE + DESC_VERDICT];
    if (v >= 0) {
      packets++;
      bytes += desc[i * DESC_STRIDE + DESC_LENGTH];
    } else if (v === VERDICT_WRITE_FAILED) counters[C.writeErrors]++;
  }
  counters[C.rxPackets] += packets;
  counters[C.rxBytes] += bytes;
  counters[C.rxBatches]++;
}

function txLoop(): void {
  const policy = { mtu: config.mtu };
  while (Atomics.load(control, 0) === 0) {
    const n = native.tunReadBatch(config.tunFd, slab, desc, config.batch, config.headroom, config.stride, config.pollMs);
    if (n === 0) continue;
    routes.refresh();
    decideTx(slab, desc, n, routes, policy, counters);
    native.encapBatch(slab, desc, n, snapshot.templates.bytes, snapshot.templates.meta);
    native.udpSendBatch(config.udpFd, slab, desc, n, snapshot.addrs);
    countTx(n);
  }
}

function rxLoop(): void {
  const policy = { backend: config.backend, vni: config.vni, subnet: config.subnet, subnetMask: config.subnetMask };
  while (Atomics.load(control, 0) === 0) {
    const n = native.udpRecvBatch(config.udpFd, slab, desc, config.batch, config.headroom, config.stride, config.pollMs, srcAddrs);
    if (n === 0) continue;
    routes.refresh();
    decideRx(slab, desc, n, srcAddrs, routes, policy, counters);
    native.tunWriteBatch(config.tunFd, slab, desc, n);
    countRx(n);
  }
}

try {
  routes.refresh();
  parentPort!.postMessage({ ready: true });
  if (config.role === 'tx') txLoop();
  else rxLoop();
} catch (error) {
  parentPort!.postMessage({ error: (error as Error).message });
  throw error;
}
