/**
 * The daemon's side of the control socket. Listens on <stateDir>/tulle.sock
 * (mode 0600: the socket answers root only). A socket left behind by a
 * daemon that was killed is replaced; one that still answers means another
 * daemon owns this state dir, and this one refuses to start.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { MAX_LINE, parseRequest, type Method, type Response } from './control-protocol.js';
import { probeControl } from './control-client.js';

export type Handlers = Record<Method, () => unknown>;

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

export async function serveControl(path: string, handlers: Handlers): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (await probeControl(path)) throw new Error(`another tulle answers on ${path}: stop it first, or give this one another stateDir`);
  rmSync(path, { force: true }); // a socket left by a daemon that died
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') socket.write(`${JSON.stringify(answer(line, handlers))}\n`);
      }
      if (buffered.length > MAX_LINE) {
        socket.end(`${JSON.stringify({ id: null, error: `request longer than ${MAX_LINE} bytes` } satisfies Response)}\n`);
        buffered = '';
      }
    });
  });
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  return {
    path,
    close: () => closeServer(server, sockets, path),
  };
}

function answer(line: string, handlers: Handlers): Response {
  const request = parseRequest(line);
  if ('error' in request) return request;
  try {
    return { id: request.id, result: handlers[request.method]() };
  } catch (error) {
    return { id: request.id, error: (error as Error).message };
  }
}

function closeServer(server: Server, sockets: Set<Socket>, path: string): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) =>
    server.close(() => {
      rmSync(path, { force: true });
      resolve();
    }),
  );
}
