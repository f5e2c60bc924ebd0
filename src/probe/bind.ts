/**
 * Binds a datagram socket and resolves once it is bound; a bind error (a port
 * in use) rejects instead of being thrown from the event loop.
 */
import type { Socket } from 'node:dgram';

export function bindSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}
