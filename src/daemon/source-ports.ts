/**
 * The vxlan source-port pool: send-only sockets bound to distinct ports in
 * 49152–65535, so that a flow's hash can pick its outer source port (RFC 7348
 * §5) and a receiving NIC can spread flows over its queues.
 */
import { closeSync } from 'node:fs';
import type { NativeAddon } from '../native/load.js';

/** One socket of the pool and the port it is bound to. */
export interface SourcePort {
  fd: number;
  port: number;
}

const SOURCE_PORT_MIN = 49152;
const SOURCE_PORT_SPAN = 65536 - SOURCE_PORT_MIN;

/** Binds `count` send-only sockets to free ports in 49152–65535, starting at a random one. */
export function openSourcePorts(native: NativeAddon, family: 4 | 6, address: string, count: number, bufferBytes: number): SourcePort[] {
  const pool: SourcePort[] = [];
  const start = Math.floor(Math.random() * SOURCE_PORT_SPAN);
  try {
    for (let i = 0; i < SOURCE_PORT_SPAN && pool.length < count; i++) {
      const port = SOURCE_PORT_MIN + ((start + i) % SOURCE_PORT_SPAN);
      try {
        pool.push({ fd: native.udpOpen(family, address, port, bufferBytes), port });
      } catch (error) {
        if (!/EADDRINUSE|in use/i.test((error as Error).message)) throw error;
      }
    }
    if (pool.length < count) throw new Error(`only ${pool.length} of ${count} ports in 49152-65535 are free on ${address}`);
  } catch (error) {
    for (const p of pool) closeSync(p.fd);
    throw error;
  }
  return pool;
}
