/**
 * The path probe's UDP socket (pathHealth.port, on the underlay address): it
 * answers other hosts' echoes and MTU probes, and receives the answers to
 * this host's own. A control-plane socket on the main thread: a probe a
 * second per peer, far from the data path's sockets and threads.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { answerTo, HEADER_BYTES, PROBE, readProbe, writeProbe } from './probe-message.js';

/** Answers sent per second at most: bounds what forged asks can make this host send. */
export const ANSWERS_PER_SECOND = 4096;

export interface ProbeAnswers {
  echo(address: string, seq: number): void;
  mtu(address: string, seq: number, received: number): void;
}

export class ProbeSocket {
  readonly port: number;
  readonly family: 4 | 6;
  readonly #socket: Socket;
  #answers: ProbeAnswers | undefined;
  #second = 0;
  #answeredThisSecond = 0;

  private constructor(socket: Socket, port: number, family: 4 | 6) {
    this.#socket = socket;
    this.port = port;
    this.family = family;
    socket.on('message', (msg, rinfo) => this.#receive(msg, rinfo.address));
  }

  /** Binds address:port; the error names the port and the setting. */
  static open(address: string, port: number, log: Logger): Promise<ProbeSocket> {
    const family = isIPv6(address) ? 6 : 4;
    const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    return new Promise((resolve, reject) => {
      socket.once('error', (error) =>
        reject(new Error(`pathHealth.port ${port}: cannot bind UDP ${address}:${port} for path probes (${error.message}); choose another port`)),
      );
      socket.bind(port, address, () => {
        socket.removeAllListeners('error');
        socket.on('error', (error) => log.warn({ event: 'path probe', error: error.message }, `path probe socket: ${error.message}`));
        resolve(new ProbeSocket(socket, socket.address().port, family));
      });
    });
  }

  /** Where answers to this host's probes go. */
  onAnswers(answers: ProbeAnswers): void {
    this.#answers = answers;
  }

  sendEcho(address: string, port: number, seq: number): void {
    // A buffer per send: dgram may still hold the last one (a control-plane datagram, not the data path).
    const out = new Uint8Array(HEADER_BYTES);
    writeProbe(out, { type: PROBE.echo, replyPort: this.port, seq, received: 0 });
    this.#socket.send(out, port, address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #receive(data: Uint8Array, from: string): void {
    const m = readProbe(data);
    if (m === undefined) return;
    if (m.type === PROBE.echoAnswer) return this.#answers?.echo(from, m.seq);
    if (m.type === PROBE.mtuAnswer) return this.#answers?.mtu(from, m.seq, m.received);
    const answer = answerTo(m, data.length);
    if (answer === undefined) return;
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#answeredThisSecond = 0;
    }
    if (++this.#answeredThisSecond > ANSWERS_PER_SECOND) return;
    const out = new Uint8Array(HEADER_BYTES);
    writeProbe(out, answer);
    this.#socket.send(out, m.replyPort, from);
  }
}
