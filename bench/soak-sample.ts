/** What one soak sample holds (types only): per daemon, and the UDP stream's counts so far. */
import type { CounterValues } from '../src/engine/counters.js';

export interface GossipFigures {
  sentBytes: number;
  receivedBytes: number;
  sentDatagrams: number;
  receivedDatagrams: number;
  /** Inbound datagrams dropped, by reason. */
  dropped: Record<string, number>;
  probesFailed: number;
  suspicions: number;
  membersAlive: number;
}

export interface DaemonSample {
  host: string;
  /** The PID the soak started; `statusPid` is the one the control socket answers with. */
  pid: number;
  statusPid: number | null;
  alive: boolean;
  rssBytes: number;
  /** V8 heap used of the main thread (prom-client's nodejs_heap_size_used_bytes). */
  heapUsedBytes: number;
  /** Full (mark-compact) collections of the main thread so far: a heap that climbs across them holds more live data. */
  majorGcs: number;
  /** Open fds at rest (the least of a few reads), and the most those reads saw. */
  fds: number;
  fdsPeak: number;
  threads: number;
  engine: CounterValues;
  gossip: GossipFigures;
}

export interface Sample {
  /** Seconds since the traffic started. */
  t: number;
  daemons: DaemonSample[];
  /** The UDP stream's counts so far: sent by the sender, distinct sequence numbers at the receiver. */
  udp: { sent: number; received: number };
}
