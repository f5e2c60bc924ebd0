/**
 * Prometheus metrics and the health check, served over HTTP on a local
 * address when `metricsAddress` is set: GET /metrics, GET /healthz.
 *
 * Data-plane counters are read from the engine's shared memory at scrape
 * time (nothing is counted twice, nothing costs per packet); leases and
 * peers from the lease router. A store adds its own through StoreMetrics.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { CounterName, CounterValues } from '../engine/counters.js';
import { healthResponse, type Health } from './health.js';

export interface MetricsSources {
  /** The engine's counters; undefined for host-gw, which has no data plane of its own. */
  counters(): CounterValues | undefined;
  leases(): number;
  peers(): number;
  /** Times the forward accept rules were put back after someone removed them (forward-accept.ts). */
  forwardRestores(): number;
}

/** Drop reasons as label values, from the engine's counter names. */
export const DROP_REASONS: Partial<Record<CounterName, string>> = {
  dropNoRoute: 'no_route',
  dropOversize: 'oversize',
  dropMalformed: 'malformed',
  dropUnknownSender: 'unknown_sender',
  dropWrongVni: 'wrong_vni',
  dropUnknownVtep: 'unknown_vtep',
  dropNotOurs: 'not_ours',
  sendErrors: 'send_error',
  writeErrors: 'write_error',
  encapErrors: 'encap_error',
};

export function createRegistry(sources: MetricsSources, info: Record<string, string>): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const perDirection = (name: string, help: string, tx: CounterName, rx: CounterName) =>
    new Counter({
      name,
      help,
      labelNames: ['direction'],
      registers: [registry],
      collect() {
        const c = sources.counters();
        this.reset();
        if (c === undefined) return;
        this.labels('tx').inc(c[tx]);
        this.labels('rx').inc(c[rx]);
      },
    });
  perDirection('tulle_packets_total', 'Inner packets through the data plane (tx: TUN to underlay, rx: underlay to TUN).', 'txPackets', 'rxPackets');
  perDirection('tulle_bytes_total', 'Inner bytes through the data plane.', 'txBytes', 'rxBytes');
  perDirection('tulle_batches_total', 'Data-plane batches (one native call each way).', 'txBatches', 'rxBatches');
  const total = (name: string, help: string, counter: CounterName) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(sources.counters()?.[counter] ?? 0);
      },
    });
  total('tulle_rx_merged_total', 'Super-packets written to the TUN from merged received segments (TCP, and UDP with offloads.uso).', 'rxMerged');
  total('tulle_rx_merged_udp_total', "Of those, UDP super-packets (USO): runs of one flow's equal-size datagrams (offloads.uso).", 'rxMergedUdp');
  total('tulle_icmp_too_big_total', 'ICMP "fragmentation needed" / ICMPv6 "packet too big" sent into the TUN for oversize packets.', 'icmpTooBig');
  total('tulle_tx_inline_total', 'Batches of replies the receive thread sent itself, right after its TUN write.', 'txInline');
  total('tulle_tx_whole_total', 'TCP super-packets sent whole, as UDP-tunnel GSO frames through the tunnel TAP (offloads.udpTunnelGso).', 'txWhole');
  total('tulle_tx_yields_total', 'Times a data-plane thread offered its core to other threads after a full TUN batch (backlogYieldMicroseconds).', 'txYields');
  total('tulle_tx_coalesced_total', 'Single datagrams that left together with others in one UDP_SEGMENT send (offloads.udpGso).', 'txCoalesced');
  new Counter({
    name: 'tulle_drops_total',
    help: 'Packets dropped, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const c = sources.counters();
      this.reset();
      if (c === undefined) return;
      for (const [counter, reason] of Object.entries(DROP_REASONS)) this.labels(reason).inc(c[counter as CounterName]);
    },
  });
  new Counter({
    name: 'tulle_forward_rules_restored_total',
    help: 'Times the accept rules in forward chains that drop by policy were put back at the head, after being removed or displaced.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.forwardRestores());
    },
  });
  new Gauge({
    name: 'tulle_leases',
    help: 'Leases in the table, own included.',
    registers: [registry],
    collect() {
      this.set(sources.leases());
    },
  });
  new Gauge({
    name: 'tulle_peers',
    help: 'Peers routed to.',
    registers: [registry],
    collect() {
      this.set(sources.peers());
    },
  });
  new Gauge({ name: 'tulle_info', help: 'This daemon: version, backend, subnet (value 1).', labelNames: Object.keys(info), registers: [registry] })
    .labels(info)
    .set(1);
  return registry;
}

export interface MetricsServer {
  readonly address: string;
  close(): Promise<void>;
}

export async function serveMetrics(host: string, port: number, registry: Registry, health: () => Health): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
      );
    } else if (path === '/healthz') {
      const { status, body } = healthResponse(health());
      response.writeHead(status, { 'content-type': 'application/json' }).end(body);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  return {
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
