/**
 * The CLI's side of the control socket: one request, one answer.
 */
import { connect } from 'node:net';
import type { Method, Response } from './control-protocol.js';

/** No daemon answers on the socket (exit code 3 in the CLI). */
export class NotRunningError extends Error {
  override name = 'NotRunningError';
}

export async function controlRequest(path: string, method: Method, timeoutMs = 3000): Promise<unknown> {
  const line = await new Promise<string>((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the tulle daemon on ${path} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify({ id: 1, method })}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(buffered.slice(0, newline));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')
        reject(new NotRunningError(`no tulle daemon is running with this state dir (nothing answers on ${path})`));
      else if (error.code === 'EACCES') reject(new Error(`permission denied on ${path}: the control socket answers root only`));
      else reject(new Error(`${path}: ${error.message}`));
    });
    socket.once('end', () => {
      clearTimeout(timer);
      reject(new Error(`the tulle daemon on ${path} closed the connection without an answer`));
    });
  });
  const response = JSON.parse(line) as Response;
  if ('error' in response) throw new Error(`the tulle daemon refused ${method}: ${response.error}`);
  return response.result;
}

/** True when a daemon answers on `path`. */
export async function probeControl(path: string): Promise<boolean> {
  try {
    await controlRequest(path, 'status', 1000);
    return true;
  } catch (error) {
    return !(error instanceof NotRunningError) && !/ENOTSOCK|closed the connection/.test((error as Error).message);
  }
}
