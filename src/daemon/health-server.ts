/**
 * GET /healthz on its own address (`healthAddress`), on by default on
 * 127.0.0.1:9465 so that a probe needs nothing turned on; /metrics stays
 * behind `metricsAddress`. 9465: next to 9464, the metrics address the docs
 * suggest, and clear of the gossip port (7946) and of the backends' UDP ports.
 *
 * An address set in the configuration must be free (the host checks say so
 * before start); the default is best effort: when its port is taken (another
 * daemon in this namespace) or loopback is down, the daemon says so and runs
 * without it.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { parseHostPort } from './config/schema.js';
import { healthResponse, type Health } from './health.js';

export const DEFAULT_HEALTH_ADDRESS = '127.0.0.1:9465';

export interface HealthServer {
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Serves /healthz at `address` (undefined: the default). Resolves undefined when it is "off", when the
 * metrics server already serves /healthz there, or when it is the default and cannot be had.
 */
export async function serveHealth(
  address: string | undefined,
  metricsAddress: string | undefined,
  health: () => Health,
  log: Logger,
): Promise<HealthServer | undefined> {
  if (address === 'off') return undefined;
  const where = address ?? DEFAULT_HEALTH_ADDRESS;
  if (where === metricsAddress) return undefined;
  const { host, port } = parseHostPort(where)!;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      const { status, body } = healthResponse(health());
      response.writeHead(status, { 'content-type': 'application/json' }).end(body);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz\n');
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => resolve());
    });
  } catch (error) {
    if (address !== undefined) throw new Error(`healthAddress ${address}: ${(error as Error).message}`, { cause: error });
    log.warn(
      { event: 'no health endpoint', address: where, error: (error as Error).message },
      `warning: no /healthz on the default ${where} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); set healthAddress to serve it elsewhere, or "off"`,
    );
    return undefined;
  }
  return {
    address: where,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
